"""The wind estimate (`streams.domain.wind`) and the ETA with it (issue 19, part 3).

Exact for a constant wind: fixes flown in it at several headings give it back, and the
ETA of a route flown in it is the sum of its legs at their ground speeds; never
negative; zero at arrival; the no-wind ETA when the fixes are at too few headings.
"""

from __future__ import annotations

import math
from datetime import timedelta
from itertools import pairwise

from hypothesis import assume, given
from hypothesis import strategies as st
from pyproj import Geod

from contracts import GeoPoint, TrackingStatus
from streams.domain.eta import EtaModel, LegTimes, estimate
from streams.domain.geodesy import distance_m
from streams.domain.wind import Wind, WindEstimator, WindModel
from tests.support.factories import T0

AIR = 15.0
MODEL = WindModel(airspeed_mps=AIR, min_weight=3.0)
ETA = EtaModel(cruise_speed_mps=AIR)
CENTRE = GeoPoint(47.38, 8.54)

winds = st.builds(
    Wind,
    east=st.floats(min_value=-8.0, max_value=8.0),
    north=st.floats(min_value=-8.0, max_value=8.0),
)


def flown(wind: Wind, track_deg: float) -> float:
    """The ground speed of a drone holding track `track_deg` at airspeed AIR in `wind`."""
    east, north = math.sin(math.radians(track_deg)), math.cos(math.radians(track_deg))
    return MODEL.ground_speed(wind, east, north)


def learned(wind: Wind, tracks: list[float], fixes_each: int = 5) -> WindEstimator:
    estimator = WindEstimator(MODEL)
    t = 0.0
    for track in tracks:
        for _ in range(fixes_each):
            estimator.observe(CENTRE.lat, CENTRE.lon, flown(wind, track), track % 360.0, t)
            t += 1.0
    return estimator


@given(wind=winds, first=st.floats(min_value=0.0, max_value=359.0))
def test_a_constant_wind_is_recovered_from_three_headings(wind: Wind, first: float) -> None:
    assume(math.hypot(*wind) < 0.8 * AIR)
    estimator = learned(wind, [first, first + 120.0, first + 240.0])
    found = estimator.at(CENTRE.lat, CENTRE.lon, 100.0)
    assert found is not None
    assert abs(found.east - wind.east) < 1e-6 and abs(found.north - wind.north) < 1e-6


@given(wind=winds, track=st.floats(min_value=0.0, max_value=359.0))
def test_one_heading_or_two_is_not_enough(wind: Wind, track: float) -> None:
    assert learned(wind, [track]).at(CENTRE.lat, CENTRE.lon, 100.0) is None
    assert learned(wind, [track, track + 180.0]).at(CENTRE.lat, CENTRE.lon, 100.0) is None


def test_the_ground_speed_crabs_into_the_crosswind() -> None:
    assert MODEL.ground_speed(Wind(0.0, 5.0), 0.0, 1.0) == AIR + 5.0  # tailwind
    assert MODEL.ground_speed(Wind(0.0, 5.0), 0.0, -1.0) == AIR - 5.0  # headwind
    assert abs(MODEL.ground_speed(Wind(9.0, 0.0), 0.0, 1.0) - 12.0) < 1e-12  # 9-12-15
    assert MODEL.ground_speed(None, 1.0, 0.0) == AIR


@given(
    wind=st.builds(Wind, east=st.floats(-40, 40), north=st.floats(-40, 40)),
    track=st.floats(min_value=0.0, max_value=2 * math.pi),
)
def test_a_ground_speed_is_never_negative(wind: Wind, track: float) -> None:
    assert MODEL.ground_speed(wind, math.sin(track), math.cos(track)) >= MODEL.min_ground_speed_mps


# The ETA with the wind ---------------------------------------------------------------------

WGS84 = Geod(ellps="WGS84")
DEPOT = GeoPoint(47.370, 8.520)
CORNER_1 = GeoPoint(47.385, 8.530)
PICKUP = GeoPoint(47.390, 8.555)
CORNER_2 = GeoPoint(47.375, 8.570)
DROPOFF = GeoPoint(47.365, 8.545)
TO_PICKUP = (DEPOT, CORNER_1, PICKUP)
CARRY = (PICKUP, CORNER_2, DROPOFF)
FIXED_S = ETA.cruise_altitude_m / ETA.climb_rate_mps + ETA.cruise_altitude_m / ETA.descent_rate_mps


def by_hand(wind: Wind, route: tuple[GeoPoint, ...]) -> float:
    """Cruise seconds of `route` in `wind`, each leg's direction from pyproj's azimuth."""
    total = 0.0
    for a, b in pairwise(route):
        azimuth, _, metres = WGS84.inv(a.lon, a.lat, b.lon, b.lat)
        track = math.radians(azimuth)
        east, north = math.sin(track), math.cos(track)
        along = wind.east * east + wind.north * north
        cross = wind.north * east - wind.east * north
        total += metres / (along + math.sqrt(AIR * AIR - cross * cross))
    return total


def ramps(route: tuple[GeoPoint, ...], cruise_s: float) -> float:
    """What a leg from rest to rest loses speeding up and braking at the mean ground speed
    v (its length over `cruise_s`): v / 2a + v / 2d (`contracts.eta.horizontal_s`)."""
    mean = sum(distance_m(a, b) for a, b in pairwise(route)) / cruise_s
    return mean / (2 * ETA.acceleration_mps2) + mean / (2 * ETA.deceleration_mps2)


def timed(estimator: WindEstimator, route: tuple[GeoPoint, ...]) -> float:
    lengths = [distance_m(a, b) for a, b in pairwise(route)]
    return estimator.cruise_s(route, 100.0, lengths)


@given(wind=winds)
def test_exact_for_a_constant_wind_on_a_known_route(wind: Wind) -> None:
    assume(math.hypot(*wind) < 0.6 * AIR)
    estimator = learned(wind, [10.0, 130.0, 250.0])
    first_m = distance_m(DEPOT, CORNER_1)
    legs = LegTimes(
        current_m=first_m,
        current_s=timed(estimator, TO_PICKUP[:2]),
        rest_s=timed(estimator, TO_PICKUP[1:]),
        after_stop_s=timed(estimator, CARRY),
    )
    eta = estimate(
        "en_route_to_pickup",
        DEPOT,
        0.0,
        PICKUP,
        DROPOFF,
        0.0,
        T0,
        ETA,
        to_stop_m=sum(distance_m(a, b) for a, b in pairwise(TO_PICKUP)),
        after_stop_m=sum(distance_m(a, b) for a, b in pairwise(CARRY)),
        legs=legs,
    )
    to_pickup_s, carry_s = by_hand(wind, TO_PICKUP), by_hand(wind, CARRY)
    expected = (
        FIXED_S
        + to_pickup_s
        + ramps(TO_PICKUP, to_pickup_s)
        + ETA.pickup_dwell_s
        + FIXED_S
        + carry_s
        + ramps(CARRY, carry_s)
        + ETA.dropoff_dwell_s
    )
    assert abs(eta.seconds - expected) < 1e-3 * expected
    assert eta.at == T0 + timedelta(seconds=eta.seconds)


@given(wind=winds)
def test_a_cruising_drone_s_own_leg_goes_at_its_speed_the_next_at_the_wind_s(wind: Wind) -> None:
    assume(math.hypot(*wind) < 0.6 * AIR)
    estimator = learned(wind, [10.0, 130.0, 250.0])
    legs = LegTimes(
        current_m=1000.0, current_s=999.0, rest_s=timed(estimator, CARRY[1:]), after_stop_s=0.0
    )
    eta = estimate(
        "en_route_to_dropoff",
        CARRY[0],
        60.0,
        PICKUP,
        DROPOFF,
        12.5,
        T0,
        ETA,
        to_stop_m=1000.0 + distance_m(CORNER_2, DROPOFF),
        legs=legs,
    )
    cruise_s = 1000.0 / 12.5 + by_hand(wind, CARRY[1:])
    # Cruising already: only the braking is lost, at the mean ground speed of what is left.
    braking_s = (1000.0 + distance_m(CORNER_2, DROPOFF)) / cruise_s / (2 * ETA.deceleration_mps2)
    expected = cruise_s + braking_s + ETA.cruise_altitude_m / 4.0
    assert abs(eta.seconds - (expected + ETA.dropoff_dwell_s)) < 1e-3 * expected


statuses = st.sampled_from(
    ["requested", "assigned", "en_route_to_pickup", "picked_up", "en_route_to_dropoff", "delivered"]
)
metres = st.floats(min_value=0.0, max_value=50_000.0)
seconds = st.floats(min_value=0.0, max_value=50_000.0)


@given(
    status=statuses,
    legs=st.builds(
        LegTimes, current_m=metres, current_s=seconds, rest_s=seconds, after_stop_s=seconds
    ),
    speed=st.floats(min_value=0.0, max_value=60.0),
    altitude=st.floats(min_value=0.0, max_value=120.0),
    at_stop=st.booleans(),
)
def test_never_negative_and_zero_at_arrival(
    status: TrackingStatus, legs: LegTimes, speed: float, altitude: float, at_stop: bool
) -> None:
    eta = estimate(
        status,
        PICKUP,
        altitude,
        PICKUP,
        DROPOFF,
        speed,
        T0,
        ETA,
        at_stop=at_stop,
        to_stop_m=legs.current_m,
        legs=legs,
    )
    assert eta.seconds >= 0.0 and eta.remaining_m >= 0.0
    if status == "delivered":
        assert eta.seconds == 0.0 and eta.at == T0


def test_a_delivery_s_legs_are_timed_again_at_a_corner_or_after_retime_s() -> None:
    estimator = WindEstimator(MODEL)
    estimator.remember("d1", ("drone-1", 2), 100.0, (15.0, 60.0, 0.0))
    assert estimator.timed("d1", ("drone-1", 2), 100.0 + MODEL.retime_s - 0.1) == (15.0, 60.0, 0.0)
    assert estimator.timed("d1", ("drone-1", 3), 101.0) is None  # the next leg
    assert estimator.timed("d1", ("drone-1", 2), 100.0 + MODEL.retime_s) is None  # too old
    assert estimator.timed("d1", ("drone-1", 2), 99.0) is None  # a fix from before
    assert estimator.timed("d2", ("drone-1", 2), 100.0) is None
