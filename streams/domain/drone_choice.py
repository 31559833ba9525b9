"""Dispatch: choose the drone for a delivery. Pure.

It picks, among the drones available (idle and not promised), the nearest one with
enough battery for the round trip plus a reserve, by geodesic distance to the pickup.
Which drones are available is `streams.processors.dispatcher`'s business.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from contracts import GeoPoint
from streams.domain.geodesy import distance_m, distances_m


@dataclass(frozen=True, slots=True)
class DroneSnapshot:
    """A drone as dispatch sees it."""

    drone_id: str
    position: GeoPoint
    battery_pct: float


@dataclass(frozen=True, slots=True)
class DispatchPolicy:
    """How much battery a mission may use: percent per km, and the reserve kept."""

    battery_pct_per_km: float = 4.0
    reserve_pct: float = 20.0


@dataclass(frozen=True, slots=True)
class Candidates:
    """The available drones as arrays: built once per dispatch round, then masked."""

    drone_ids: list[str]
    lats: npt.NDArray[np.float64]
    lons: npt.NDArray[np.float64]
    battery_pct: npt.NDArray[np.float64]

    @classmethod
    def of(cls, drones: Sequence[DroneSnapshot]) -> Candidates:
        """The arrays of these drones, in their order."""
        n = len(drones)
        return cls(
            [d.drone_id for d in drones],
            np.fromiter((d.position.lat for d in drones), np.float64, n),
            np.fromiter((d.position.lon for d in drones), np.float64, n),
            np.fromiter((d.battery_pct for d in drones), np.float64, n),
        )


NEAREST_FIRST = 64
"""How many drones, nearest by a planar estimate, get exact distances first."""
ESTIMATE_ERROR = 0.02
"""A bound on the planar estimate's relative error (under 0.7 % measured within 50 km, 0-70°)."""


def choose_among(
    candidates: Candidates,
    allowed: npt.NDArray[np.bool_],
    pickup: GeoPoint,
    dropoff: GeoPoint,
    policy: DispatchPolicy,
    nearest_first: int = NEAREST_FIRST,
) -> int | None:
    """The index of the nearest allowed candidate that can fly the whole mission, or None.

    Ties go to the lowest index. Exact (geodesic) distances for thousands of drones cost
    milliseconds per waiting delivery, so a cheap planar estimate goes first, and its
    error bound keeps the answer exact: drones whose battery cannot last even for the
    estimated flight less that bound are out; of the rest, the `nearest_first` by the
    estimate (and any the estimate cannot tell from them) are weighed exactly, and their
    answer stands when every other drone is, by the estimate less the bound, farther
    than the one chosen. Else all the rest are weighed. A delivery no drone can serve
    then costs no geodesic at all.
    """
    index = np.flatnonzero(allowed)
    if index.size == 0:
        return None
    to_pickup = _planar_m(candidates.lats[index], candidates.lons[index], pickup)
    back_home = _planar_m(candidates.lats[index], candidates.lons[index], dropoff)
    shortest = (to_pickup + distance_m(pickup, dropoff) + back_home) * (1 - ESTIMATE_ERROR)
    hopeful = candidates.battery_pct[index] - shortest / 1000 * policy.battery_pct_per_km
    maybe = np.flatnonzero(hopeful >= policy.reserve_pct)
    if maybe.size > nearest_first:
        # The nearest few, and every drone the estimate cannot tell from them (drones
        # parked at one depot share a position: a fixed count would cut through them).
        estimate = to_pickup[maybe]
        kth = float(np.partition(estimate, nearest_first)[nearest_first])
        inner = estimate <= kth * (1 + ESTIMATE_ERROR) / (1 - ESTIMATE_ERROR)
        near, rest = maybe[inner], maybe[~inner]
        if rest.size:
            chosen = _exact_choice(candidates, index[near], pickup, dropoff, policy)
            bound = float(to_pickup[rest].min()) * (1 - ESTIMATE_ERROR)
            if chosen is not None and bound > chosen[1]:
                return chosen[0]
    if maybe.size == 0:
        return None
    chosen = _exact_choice(candidates, index[maybe], pickup, dropoff, policy)
    return None if chosen is None else chosen[0]


def _exact_choice(
    candidates: Candidates,
    index: npt.NDArray[np.intp],
    pickup: GeoPoint,
    dropoff: GeoPoint,
    policy: DispatchPolicy,
) -> tuple[int, float] | None:
    """The nearest capable drone among `index` (ascending) and its distance to the pickup."""
    lats, lons = candidates.lats[index], candidates.lons[index]
    to_pickup = distances_m(lats, lons, pickup)
    back_home = distances_m(lats, lons, dropoff)
    needed = (
        (to_pickup + distance_m(pickup, dropoff) + back_home) / 1000 * policy.battery_pct_per_km
    )
    capable = np.flatnonzero(candidates.battery_pct[index] - needed >= policy.reserve_pct)
    if capable.size == 0:
        return None
    best = capable[np.argmin(to_pickup[capable])]
    return int(index[best]), float(to_pickup[best])


def _planar_m(
    lats: npt.NDArray[np.float64], lons: npt.NDArray[np.float64], to: GeoPoint
) -> npt.NDArray[np.float64]:
    """Equirectangular distance estimate in metres (a few arithmetic operations a drone)."""
    dy = (lats - to.lat) * 111_132.0
    dx = (lons - to.lon) * 111_320.0 * np.cos(np.radians(to.lat))
    return np.asarray(np.hypot(dx, dy), dtype=np.float64)


def choose_drone(
    available: Iterable[DroneSnapshot],
    pickup: GeoPoint,
    dropoff: GeoPoint,
    policy: DispatchPolicy,
) -> str | None:
    """The nearest available drone that can fly the whole mission, or None (first on ties)."""
    candidates = Candidates.of(list(available))
    allowed = np.ones(len(candidates.drone_ids), dtype=np.bool_)
    chosen = choose_among(candidates, allowed, pickup, dropoff, policy)
    return None if chosen is None else candidates.drone_ids[chosen]
