"""The route-length ETA (`streams.domain.route` with `streams.domain.eta`), issue 19.

Properties: exact for a drone flying a known route at a constant speed, never negative,
zero at arrival, and the straight line's estimate when no zone is in the way. The
drones' positions are put on the route with pyproj's forward geodesic, independent of the
code under test.
"""

from __future__ import annotations

from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Geod

from contracts import AirspaceRules, GeoPoint, TrackingStatus
from streams.domain.eta import EtaModel, estimate
from streams.domain.geodesy import distance_m
from streams.domain.route import RouteCursor, plan_route, progress
from tests.support.airspaces import (
    EAST_OF_SQUARE,
    WEST_OF_SQUARE,
    airspace,
    square_rules,
    zurich_rules,
)
from tests.support.factories import T0

WGS84 = Geod(ellps="WGS84")
MODEL = EtaModel()
DESCENT_S = MODEL.cruise_altitude_m / MODEL.descent_rate_mps
RULES = square_rules()
ZURICH = zurich_rules()
NO_ZONES = AirspaceRules(airspace(zones=()))
ROUND_THE_SQUARE = RULES.route(WEST_OF_SQUARE, EAST_OF_SQUARE)


def length_m(route: tuple[GeoPoint, ...]) -> float:
    return sum(distance_m(a, b) for a, b in pairwise(route))


def flown(route: tuple[GeoPoint, ...], metres: float) -> GeoPoint:
    """Where a drone is after `metres` along `route` (geodesic legs, pyproj forward)."""
    for a, b in pairwise(route):
        azimuth, _, leg = WGS84.inv(a.lon, a.lat, b.lon, b.lat)
        if metres <= leg:
            lon, lat, _ = WGS84.fwd(a.lon, a.lat, azimuth, metres)
            return GeoPoint(lat, lon)
        metres -= leg
    return route[-1]


def fly(cursor: RouteCursor, route: tuple[GeoPoint, ...], upto: float, before: bool) -> RouteCursor:
    """The cursor after fixes every 50 m up to `upto` metres (as `on_fix` keeps it)."""
    at = 0.0
    while at < upto:
        cursor, _, _ = progress(cursor, flown(route, at), before)
        at += 50.0
    return cursor


@settings(max_examples=60, deadline=None)
@given(fraction=st.floats(min_value=0.0, max_value=1.0), speed=st.floats(min_value=8, max_value=30))
def test_exact_for_a_constant_speed_on_a_known_route(fraction: float, speed: float) -> None:
    """Cruising at `speed` (above half the cruise speed: the model takes it as cruising)
    along the route: what is left of it / speed, the braking, descent, dwell."""
    total = length_m(ROUND_THE_SQUARE)
    done = fraction * total
    cursor = fly(plan_route(None, ROUND_THE_SQUARE, "drone-1"), ROUND_THE_SQUARE, done, False)
    here = flown(ROUND_THE_SQUARE, done)
    cursor, to_stop, after = progress(cursor, here, before_pickup=False)
    assert abs(to_stop - (total - done)) < 0.01
    assert after == 0.0
    eta = estimate(
        "en_route_to_dropoff",
        here,
        60.0,
        WEST_OF_SQUARE,
        EAST_OF_SQUARE,
        speed,
        T0,
        MODEL,
        to_stop_m=to_stop,
        after_stop_m=after,
    )
    left = total - done
    braking_m = speed * speed / (2 * MODEL.deceleration_mps2)  # it brakes onto the stop
    flight = left / speed + speed / (2 * MODEL.deceleration_mps2)
    if left < braking_m:
        flight = 2 * left / speed
    truth = flight + DESCENT_S + MODEL.dropoff_dwell_s
    assert abs(eta.seconds - truth) < 0.01
    assert abs(eta.remaining_m - left) < 0.01


@settings(max_examples=40, deadline=None)
@given(fraction=st.floats(min_value=0.0, max_value=1.0))
def test_before_the_pickup_both_routes_count(fraction: float) -> None:
    """Drone -> pickup round the square, then pickup -> drop-off: the sum of what is left."""
    depot = GeoPoint(47.375, 8.510)
    to_pickup = RULES.route(depot, EAST_OF_SQUARE)
    dropoff = GeoPoint(47.390, 8.555)
    to_dropoff = RULES.route(EAST_OF_SQUARE, dropoff)
    done = fraction * length_m(to_pickup)
    cursor = fly(plan_route(to_pickup, to_dropoff, "drone-1"), to_pickup, done, True)
    cursor, to_stop, after = progress(cursor, flown(to_pickup, done), before_pickup=True)
    assert abs(to_stop - (length_m(to_pickup) - done)) < 0.01
    assert abs(after - length_m(to_dropoff)) < 1e-6
    # Picked up: the cursor moves on to the drop-off's legs, whatever it was at.
    _, to_stop, after = progress(cursor, EAST_OF_SQUARE, before_pickup=False)
    assert abs(to_stop - length_m(to_dropoff)) < 0.01 and after == 0.0


positions = st.builds(
    GeoPoint,
    lat=st.floats(min_value=47.33, max_value=47.52),
    lon=st.floats(min_value=8.45, max_value=8.70),
)


@settings(max_examples=150, deadline=None)
@given(start=positions, dropoff=positions, wandering=st.lists(positions, max_size=6))
def test_never_negative_wherever_the_drone_strays(
    start: GeoPoint, dropoff: GeoPoint, wandering: list[GeoPoint]
) -> None:
    cursor = plan_route(None, ZURICH.route(start, dropoff), "drone-1")
    for here in wandering:
        cursor, to_stop, after = progress(cursor, here, before_pickup=False)
        assert to_stop >= 0.0 and after == 0.0
        eta = estimate(
            "en_route_to_dropoff",
            here,
            30.0,
            start,
            dropoff,
            12.0,
            T0,
            MODEL,
            to_stop_m=to_stop,
            after_stop_m=after,
        )
        assert eta.seconds >= 0.0 and eta.remaining_m >= 0.0 and eta.at >= T0


def test_zero_at_arrival() -> None:
    whole = length_m(ROUND_THE_SQUARE)
    cursor = fly(plan_route(None, ROUND_THE_SQUARE, "drone-1"), ROUND_THE_SQUARE, whole, False)
    _, to_stop, _ = progress(cursor, EAST_OF_SQUARE, before_pickup=False)
    assert to_stop < 1e-6
    landed = estimate(
        "en_route_to_dropoff",
        EAST_OF_SQUARE,
        0.0,
        WEST_OF_SQUARE,
        EAST_OF_SQUARE,
        0.0,
        T0,
        MODEL,
        at_stop=True,
        dwell_elapsed_s=MODEL.dropoff_dwell_s,
        to_stop_m=to_stop,
        after_stop_m=0.0,
    )
    assert landed.seconds == 0.0 and landed.at == T0


@settings(max_examples=150, deadline=None)
@given(
    drone=positions,
    pickup=positions,
    dropoff=positions,
    before=st.booleans(),
    speed=st.floats(min_value=0, max_value=30),
    altitude=st.floats(min_value=0, max_value=120),
)
def test_the_straight_line_s_estimate_when_no_zone_is_in_the_way(
    drone: GeoPoint,
    pickup: GeoPoint,
    dropoff: GeoPoint,
    before: bool,
    speed: float,
    altitude: float,
) -> None:
    to_pickup = NO_ZONES.route(drone, pickup) if before else None
    cursor = plan_route(to_pickup, NO_ZONES.route(pickup if before else drone, dropoff), "d")
    _, to_stop, after = progress(cursor, drone, before)
    status: TrackingStatus = "en_route_to_pickup" if before else "en_route_to_dropoff"
    routed = estimate(
        status,
        drone,
        altitude,
        pickup,
        dropoff,
        speed,
        T0,
        MODEL,
        to_stop_m=to_stop,
        after_stop_m=after,
    )
    straight = estimate(status, drone, altitude, pickup, dropoff, speed, T0, MODEL)
    assert routed == straight
