"""Dispatch: choose the drone for a delivery. Pure.

It picks, among the drones available (idle and not promised), the nearest one with
enough battery for the mission plus a reserve. Which drones are available is
`streams.processors.dispatcher`'s business.

With the airspace known (issue 19), "nearest" and "the mission" are along the routes
around the no-fly zones (`contracts.airspace.RouteGraph`): a drone just across Zurich
airport from the pickup is near by the straight line and far by the route it must fly.
The mission is the route to the pickup, the pickup to the drop-off, and the drop-off
home to the depot nearest it (where the simulator's drones land). Routes cost
milliseconds where a zone is in the way, so they are computed only where the straight
line could mislead: the straight (geodesic) distance is a lower bound of the route's, so
drones are weighed in order of it and the search stops at the first drone farther in a
straight line than the best route found; a drone whose line crosses no zone's bounding
box costs a few comparisons more than before. Without an airspace, the straight lines,
and the trip home is back to where the drone was (as before issue 19).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from contracts import AirspaceRules, GeoPoint
from streams.domain.geodesy import distance_m, distances_m, path_length_m


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


@dataclass(frozen=True, slots=True)
class Mission:
    """A delivery's legs as dispatch weighs them: to the pickup from any drone, the rest once."""

    pickup: GeoPoint
    dropoff: GeoPoint
    airspace: AirspaceRules | None
    carry_m: float
    """The pickup to the drop-off (along the route when the airspace is known)."""
    home_m: float | None
    """The drop-off to the depot nearest it, along the route.

    None without an airspace: the trip home is then counted back to where each drone was.
    """

    @classmethod
    def of(cls, pickup: GeoPoint, dropoff: GeoPoint, airspace: AirspaceRules | None) -> Mission:
        """The mission's fixed legs, routed around `airspace`'s zones when given."""
        if airspace is None:
            return cls(pickup, dropoff, None, distance_m(pickup, dropoff), None)
        return _routed_mission(pickup, dropoff, airspace)


@functools.lru_cache(maxsize=4096)
def _routed_mission(pickup: GeoPoint, dropoff: GeoPoint, airspace: AirspaceRules) -> Mission:
    """`Mission.of` with an airspace, remembered.

    Dispatch weighs every waiting delivery again at each round it tries the queue, and a
    leg round a zone costs a millisecond.
    """
    home = airspace.nearest_depot(dropoff)
    return Mission(
        pickup,
        dropoff,
        airspace,
        route_m(airspace, pickup, dropoff),
        route_m(airspace, dropoff, home),
    )


def route_m(airspace: AirspaceRules, a: GeoPoint, b: GeoPoint) -> float:
    """The route's geodesic length (the same geodesy as every other distance here).

    The straight line's very number when nothing is in the way.
    """
    route = airspace.route(a, b)
    return distance_m(a, b) if len(route) == 2 else path_length_m(list(route))


def choose_among(
    candidates: Candidates,
    allowed: npt.NDArray[np.bool_],
    pickup: GeoPoint,
    dropoff: GeoPoint,
    policy: DispatchPolicy,
    nearest_first: int = NEAREST_FIRST,
    airspace: AirspaceRules | None = None,
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

    `airspace`: distances along the routes around its zones (the module says how);
    every bound above holds, a route being no shorter than its straight line.
    """
    index = np.flatnonzero(allowed)
    if index.size == 0:
        return None
    mission = Mission.of(pickup, dropoff, airspace)
    to_pickup = _planar_m(candidates.lats[index], candidates.lons[index], pickup)
    back_home = (
        _planar_m(candidates.lats[index], candidates.lons[index], dropoff)
        if mission.home_m is None
        else mission.home_m
    )
    shortest = (to_pickup + mission.carry_m + back_home) * (1 - ESTIMATE_ERROR)
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
            chosen = _exact_choice(candidates, index[near], mission, policy)
            bound = float(to_pickup[rest].min()) * (1 - ESTIMATE_ERROR)
            if chosen is not None and bound > chosen[1]:
                return chosen[0]
    if maybe.size == 0:
        return None
    chosen = _exact_choice(candidates, index[maybe], mission, policy)
    return None if chosen is None else chosen[0]


def _exact_choice(
    candidates: Candidates,
    index: npt.NDArray[np.intp],
    mission: Mission,
    policy: DispatchPolicy,
) -> tuple[int, float] | None:
    """The nearest capable drone among `index` (ascending) and its distance to the pickup."""
    if mission.airspace is not None and mission.home_m is not None:
        return _routed_choice(candidates, index, mission.airspace, mission, policy)
    lats, lons = candidates.lats[index], candidates.lons[index]
    to_pickup = distances_m(lats, lons, mission.pickup)
    back_home = distances_m(lats, lons, mission.dropoff)
    needed = (to_pickup + mission.carry_m + back_home) / 1000 * policy.battery_pct_per_km
    capable = np.flatnonzero(candidates.battery_pct[index] - needed >= policy.reserve_pct)
    if capable.size == 0:
        return None
    best = capable[np.argmin(to_pickup[capable])]
    return int(index[best]), float(to_pickup[best])


def _routed_choice(
    candidates: Candidates,
    index: npt.NDArray[np.intp],
    airspace: AirspaceRules,
    mission: Mission,
    policy: DispatchPolicy,
) -> tuple[int, float] | None:
    """`_exact_choice` along the routes, by position in order of the straight distance.

    Until the next position's straight line is longer than the best route found (ties:
    the lowest index). Drones parked at one depot share a position, and so a distance
    and a route: each position is weighed once, its drones as one array. Weighed drone by
    drone, a depot of a few hundred drones all nearer in a straight line than the best
    route round a zone was a Python loop over each of them, for every request and every
    round: most of the dispatch agent's time at 10,000 drones (issue 20's profile).
    """
    lats, lons = candidates.lats[index], candidates.lons[index]
    battery = candidates.battery_pct[index]
    _, first, position_of = np.unique(lats + 1j * lons, return_index=True, return_inverse=True)
    straight = distances_m(lats[first], lons[first], mission.pickup)
    by_position = np.argsort(position_of, kind="stable")  # each position's drones, ascending
    bounds = np.searchsorted(position_of[by_position], np.arange(first.size + 1))
    after_pickup = mission.carry_m + (mission.home_m or 0.0)
    best: tuple[int, float] | None = None
    for p in np.argsort(straight, kind="stable").tolist():
        if best is not None and straight[p] > best[1]:
            break
        at = GeoPoint(float(lats[first[p]]), float(lons[first[p]]))
        to_pickup = route_m(airspace, at, mission.pickup)
        needed = (to_pickup + after_pickup) / 1000 * policy.battery_pct_per_km
        drones_here = by_position[bounds[p] : bounds[p + 1]]
        capable = drones_here[battery[drones_here] - needed >= policy.reserve_pct]
        if capable.size == 0:
            continue
        k = int(capable[0])
        if best is None or to_pickup < best[1] or (to_pickup == best[1] and k < best[0]):
            best = (k, to_pickup)
    return None if best is None else (int(index[best[0]]), best[1])


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
    airspace: AirspaceRules | None = None,
) -> str | None:
    """The nearest available drone that can fly the whole mission, or None (first on ties)."""
    candidates = Candidates.of(list(available))
    allowed = np.ones(len(candidates.drone_ids), dtype=np.bool_)
    chosen = choose_among(candidates, allowed, pickup, dropoff, policy, airspace=airspace)
    return None if chosen is None else candidates.drone_ids[chosen]
