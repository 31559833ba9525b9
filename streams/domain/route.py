"""A delivery's route as tracking keeps it, and how far along it a drone is. Pure.

Why a route and not the line: drones fly around the no-fly zones, and a drone bending
around Zurich airport has kilometres more to fly than the straight line says (issue 19).
The route is planned once per delivery and drone (`contracts.airspace.RouteGraph`, the
planner the API quotes with) and kept in the delivery's tracking memory.

Why a cursor: the memory is decoded and encoded on every fix (`TrackingEmitter.on_fix`,
10,000 a second at 10,000 drones), and a route around an airport's circle has a dozen
corners: decoding them all on every fix doubled the cost of a fix (measured in
`benchmarks/tracking_fix_bench.py`). So the memory holds a `RouteCursor`: the point the
drone flies towards, the one after it, and the route's length from there to the stop,
a few numbers; the whole plan rides along as raw JSON, copied without being parsed, and
is decoded only when the drone passes a corner or picks up (a few times a mission). A
fix then costs one geodesic distance (the drone to the point ahead) and a few
multiplications, as the straight line did.

Which point the drone flies towards moves on when it has passed a corner: it is beyond
the line through the corner square to the next leg. A drone that cuts a corner a little
(the simulator's planner bends at its own points, within metres of these) is counted
from where it is, so the estimate follows it rather than the plan.
"""

from __future__ import annotations

import functools
import math
from itertools import pairwise

import msgspec

from contracts import GeoPoint
from streams.domain.geodesy import distance_m


class PlannedRoute(msgspec.Struct, frozen=True, array_like=True):
    """The points a drone flies through after its start, and the route's length from each."""

    waypoints: tuple[GeoPoint, ...]
    """Corners and stops after the drone's starting point: ..., pickup, ..., drop-off."""
    to_dropoff_m: tuple[float, ...]
    """Along the route, from each waypoint to the drop-off (the last one is 0)."""
    pickup_at: int
    """The pickup's index in `waypoints`; -1 when the route was planned after the pickup."""


class RouteCursor(msgspec.Struct, frozen=True, array_like=True):
    """Where a drone is on its `PlannedRoute`: what a fix needs, and the plan as raw JSON."""

    drone_id: str | None
    """The drone the route was planned for: another drone (a reschedule) flies another."""
    carrying: bool
    """Placed for the legs after the pickup (the stop is the drop-off)."""
    pickup_at: int
    next: int
    """The index of the waypoint the drone flies towards."""
    target_lat: float
    target_lon: float
    target_to_stop_m: float
    """Along the route from the target to the current stop (pickup, or drop-off)."""
    after: GeoPoint | None
    """The waypoint after the target, None when the target is the stop."""
    carry_m: float
    """Along the route from the pickup to the drop-off; 0 once carrying."""
    plan: msgspec.Raw
    """The whole `PlannedRoute`, encoded: decoded only to move past a corner."""


_plan_encoder = msgspec.json.Encoder()
_plan_decoder = msgspec.json.Decoder(PlannedRoute)


def plan_route(
    to_pickup: tuple[GeoPoint, ...] | None,
    to_dropoff: tuple[GeoPoint, ...],
    drone_id: str | None = None,
) -> RouteCursor:
    """The cursor at the start of a delivery's routes, planned for `drone_id`.

    `to_pickup`: the drone -> the pickup (None after the pickup); `to_dropoff`: the
    pickup, or the drone, -> the drop-off; each with its starting point.
    """
    waypoints = (*(to_pickup[1:] if to_pickup else ()), *to_dropoff[1:])
    legs = [distance_m(a, b) for a, b in pairwise(waypoints)]
    tails = [0.0] * len(waypoints)
    for i in range(len(legs) - 1, -1, -1):
        tails[i] = tails[i + 1] + legs[i]
    plan = PlannedRoute(tuple(waypoints), tuple(tails), len(to_pickup) - 2 if to_pickup else -1)
    return _placed(plan, msgspec.Raw(_plan_encoder.encode(plan)), drone_id, 0, carrying=False)


def _placed(
    plan: PlannedRoute, raw: msgspec.Raw, drone_id: str | None, index: int, *, carrying: bool
) -> RouteCursor:
    """The cursor flying towards waypoint `index` of `plan`."""
    carrying = carrying or plan.pickup_at < 0
    stop = len(plan.waypoints) - 1 if carrying else plan.pickup_at
    if carrying:
        index = max(index, plan.pickup_at + 1)
    index = min(index, stop)
    target = plan.waypoints[index]
    tails = plan.to_dropoff_m
    return RouteCursor(
        drone_id=drone_id,
        carrying=carrying,
        pickup_at=plan.pickup_at,
        next=index,
        target_lat=target.lat,
        target_lon=target.lon,
        target_to_stop_m=tails[index] - tails[stop],
        after=plan.waypoints[index + 1] if index < stop else None,
        carry_m=0.0 if carrying else tails[stop],
        plan=raw,
    )


def progress(
    cursor: RouteCursor, position: GeoPoint, before_pickup: bool
) -> tuple[RouteCursor, float, float]:
    """Where `position` is on the route.

    Returns the cursor moved on, the metres to the current stop, and the metres from the
    pickup to the drop-off still to fly after it (0 after the pickup). The current stop
    is the pickup before the pickup, the drop-off after. Both lengths are along the
    route, never negative, and 0 at the stop.
    """
    if not before_pickup and not cursor.carrying:
        cursor = _moved(cursor, cursor.next, carrying=True)  # picked up: on to the drop-off
    while cursor.after is not None and _passed(
        position, cursor.target_lat, cursor.target_lon, cursor.after
    ):
        cursor = _moved(cursor, cursor.next + 1, carrying=cursor.carrying)
    to_target = distance_m(position, GeoPoint(cursor.target_lat, cursor.target_lon))
    return cursor, to_target + cursor.target_to_stop_m, cursor.carry_m


def _moved(cursor: RouteCursor, index: int, *, carrying: bool) -> RouteCursor:
    """The cursor placed at waypoint `index` (the plan decoded: a corner passed)."""
    plan = _plan_decoder.decode(cursor.plan)
    return _placed(plan, cursor.plan, cursor.drone_id, index, carrying=carrying)


def _passed(position: GeoPoint, lat: float, lon: float, after: GeoPoint) -> bool:
    """Whether `position` is beyond the line through the corner square to the next leg.

    Planar (a few multiplications): it only asks which side, near a corner.
    """
    scale = math.cos(math.radians(lat))
    ahead = (after.lat - lat) * (position.lat - lat) + (
        (after.lon - lon) * (position.lon - lon) * scale * scale
    )
    return ahead > 0.0


@functools.lru_cache(maxsize=16_384)
def _plan_of(raw: bytes) -> PlannedRoute:
    """A plan decoded, remembered by its bytes: the wind's legs ask for it on every fix."""
    return _plan_decoder.decode(raw)


def ahead(
    cursor: RouteCursor,
) -> tuple[tuple[GeoPoint, ...], tuple[float, ...], tuple[GeoPoint, ...], tuple[float, ...]]:
    """The route still to fly, leg by leg, for the wind (`streams.domain.wind`).

    Returns the waypoints from the cursor's target to the current stop and the length of
    each leg between them, then the same from the pickup to the drop-off (empty once
    carrying). The lengths are the plan's (geodesic), so the times add up with
    `progress`'s distances.
    """
    plan = _plan_of(bytes(cursor.plan))
    tails = plan.to_dropoff_m
    last = len(plan.waypoints) - 1
    stop = last if cursor.carrying else cursor.pickup_at
    to_stop = plan.waypoints[cursor.next : stop + 1]
    to_stop_m = tuple(tails[i] - tails[i + 1] for i in range(cursor.next, stop))
    if cursor.carrying:
        return to_stop, to_stop_m, (), ()
    carry = plan.waypoints[stop:]
    carry_m = tuple(tails[i] - tails[i + 1] for i in range(stop, last))
    return to_stop, to_stop_m, carry, carry_m
