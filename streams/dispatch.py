"""Dispatch: choose the drone for a delivery. Pure.

It picks, among the drones available (idle and not promised), the nearest one with
enough battery for the round trip plus a reserve, by geodesic distance to the pickup.
Which drones are available is `streams.dispatcher`'s business.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from contracts import GeoPoint
from streams.geodesy import distance_m, distances_m


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


def choose_drone(
    available: Iterable[DroneSnapshot],
    pickup: GeoPoint,
    dropoff: GeoPoint,
    policy: DispatchPolicy,
) -> str | None:
    """The nearest available drone that can fly the whole mission, or None.

    Ties go to the first of `available`. The distances of all drones are computed in one
    vectorized call: the fleet can be thousands of drones and this runs per request.
    """
    drones = list(available)
    if not drones:
        return None
    lats = np.fromiter((d.position.lat for d in drones), np.float64, len(drones))
    lons = np.fromiter((d.position.lon for d in drones), np.float64, len(drones))
    battery = np.fromiter((d.battery_pct for d in drones), np.float64, len(drones))
    to_pickup = distances_m(lats, lons, pickup)
    back_home = distances_m(lats, lons, dropoff)
    needed = (
        (to_pickup + distance_m(pickup, dropoff) + back_home) / 1000 * policy.battery_pct_per_km
    )
    capable = np.flatnonzero(battery - needed >= policy.reserve_pct)
    if capable.size == 0:
        return None
    return drones[int(capable[np.argmin(to_pickup[capable])])].drone_id
