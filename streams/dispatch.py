"""Dispatch: choose the drone for a delivery. Pure.

It picks, among the drones available (idle and not promised), the nearest one with
enough battery for the round trip plus a reserve, by geodesic distance to the pickup.
Which drones are available is `streams.dispatcher`'s business.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from contracts import GeoPoint
from streams.geodesy import distance_m


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
    """The nearest available drone that can fly the whole mission, or None."""
    mission_m = distance_m(pickup, dropoff)
    best: tuple[float, str] | None = None
    for drone in available:
        to_pickup = distance_m(drone.position, pickup)
        back_home = distance_m(dropoff, drone.position)
        needed = (to_pickup + mission_m + back_home) / 1000 * policy.battery_pct_per_km
        if drone.battery_pct - needed < policy.reserve_pct:
            continue
        if best is None or to_pickup < best[0]:
            best = (to_pickup, drone.drone_id)
    return best[1] if best else None
