"""ETA properties: never negative, zero at arrival, exact for a flight that follows the model.

The model's drones speed up and brake at 4 m/s^2 (`contracts.eta.horizontal_s`): the
truths below write those losses out by hand (v / 2a speeding up, v / 2d braking).
"""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from contracts import GeoPoint
from streams.domain.eta import EtaModel, estimate, smooth_speed
from streams.domain.geodesy import distance_m
from tests.support.factories import DROPOFF, PICKUP, T0

MODEL = EtaModel(
    cruise_speed_mps=15.0,
    cruise_altitude_m=60.0,
    climb_rate_mps=5.0,
    descent_rate_mps=4.0,
    pickup_dwell_s=10.0,
    dropoff_dwell_s=10.0,
    acceleration_mps2=4.0,
    deceleration_mps2=4.0,
)
CLIMB_S, DESCENT_S = 12.0, 15.0
RAMPS_S = 15.0 / 8.0 + 15.0 / 8.0
"""A whole leg at 15 m/s loses this to speeding up from rest and braking to a stop."""
near = st.builds(
    GeoPoint,
    lat=st.floats(min_value=47.30, max_value=47.45),
    lon=st.floats(min_value=8.45, max_value=8.65),
)
statuses = st.sampled_from(
    ["requested", "assigned", "en_route_to_pickup", "picked_up", "en_route_to_dropoff", "delivered"]
)


@given(
    position=near,
    status=statuses,
    speed=st.floats(min_value=0, max_value=60),
    altitude=st.floats(min_value=0, max_value=120),
    at_stop=st.booleans(),
    dwelled=st.floats(min_value=0, max_value=100),
)
def test_never_negative(
    position: GeoPoint, status: str, speed: float, altitude: float, at_stop: bool, dwelled: float
) -> None:
    eta = estimate(
        status,
        position,
        altitude,
        PICKUP,
        DROPOFF,
        speed,
        T0,
        MODEL,  # type: ignore[arg-type]
        at_stop=at_stop,
        dwell_elapsed_s=dwelled,
    )
    assert eta.seconds >= 0
    assert eta.remaining_m >= 0
    assert eta.at >= T0


def test_zero_at_arrival_and_after_a_cancellation() -> None:
    for final in ("delivered", "cancelled"):
        eta = estimate(final, DROPOFF, 0.0, PICKUP, DROPOFF, 0.0, T0, MODEL)  # type: ignore[arg-type]
        assert eta.seconds == 0 and eta.remaining_m == 0 and eta.at == T0


@given(speed=st.floats(min_value=8, max_value=40), fraction=st.floats(min_value=0, max_value=1))
def test_a_cruising_drone_on_the_last_leg_is_exact(speed: float, fraction: float) -> None:
    """At cruise altitude and constant ground speed: distance / speed, the braking
    (speed / 2d, or 2 distance / speed when it must brake at once), descent, dwell."""
    position = GeoPoint(
        PICKUP.lat + (DROPOFF.lat - PICKUP.lat) * fraction,
        PICKUP.lon + (DROPOFF.lon - PICKUP.lon) * fraction,
    )
    remaining = distance_m(position, DROPOFF)
    eta = estimate("en_route_to_dropoff", position, 60.0, PICKUP, DROPOFF, speed, T0, MODEL)
    braking_m = speed * speed / (2 * 4.0)
    if remaining >= braking_m:
        flight = remaining / speed + speed / (2 * 4.0)
    else:
        flight = 2 * remaining / speed
    assert abs(eta.seconds - (flight + DESCENT_S + 10.0)) < 1e-6


def test_a_steady_drone_s_eta_counts_its_braking_onto_the_stop() -> None:
    """1,200 m from the drop-off at a steady 12 m/s: 100 s, 1.5 s braking, 15 s down, 10 s."""
    eta = estimate(
        "en_route_to_dropoff", PICKUP, 60.0, PICKUP, DROPOFF, 12.0, T0, MODEL, to_stop_m=1_200.0
    )
    assert abs(eta.seconds - 126.5) < 1e-9
    assert eta.at == T0 + timedelta(seconds=126.5)


def test_zero_left_over_the_stop_but_the_descent_and_the_dwell() -> None:
    over = estimate("en_route_to_dropoff", DROPOFF, 60.0, PICKUP, DROPOFF, 3.0, T0, MODEL)
    assert abs(over.seconds - (DESCENT_S + 10.0)) < 1e-9
    lower = estimate("en_route_to_dropoff", DROPOFF, 20.0, PICKUP, DROPOFF, 0.0, T0, MODEL)
    assert abs(lower.seconds - (20.0 / 4.0 + 10.0)) < 1e-9


def test_before_pickup_counts_the_whole_second_leg() -> None:
    leg = distance_m(PICKUP, DROPOFF)
    landed = estimate(
        "en_route_to_pickup",
        PICKUP,
        0.0,
        PICKUP,
        DROPOFF,
        0.0,
        T0,
        MODEL,
        at_stop=True,
        dwell_elapsed_s=4.0,
    )
    assert abs(landed.remaining_m - leg) < 1e-6
    truth = 6.0 + CLIMB_S + leg / 15.0 + RAMPS_S + DESCENT_S + 10.0
    assert abs(landed.seconds - truth) < 1e-6


def test_a_climbing_drone_counts_the_rest_of_its_climb_at_cruise_speed() -> None:
    """From rest (its smoothed speed 0 on the pad): the whole ramp up and the braking."""
    eta = estimate("en_route_to_dropoff", PICKUP, 20.0, PICKUP, DROPOFF, 0.0, T0, MODEL)
    leg = distance_m(PICKUP, DROPOFF)
    assert abs(eta.seconds - (40.0 / 5.0 + leg / 15.0 + RAMPS_S + DESCENT_S + 10.0)) < 1e-6


def test_a_drone_landed_at_the_dropoff_only_waits_out_its_dwell() -> None:
    eta = estimate(
        "en_route_to_dropoff",
        DROPOFF,
        0.0,
        PICKUP,
        DROPOFF,
        0.0,
        T0,
        MODEL,
        at_stop=True,
        dwell_elapsed_s=7.0,
    )
    assert abs(eta.seconds - 3.0) < 1e-9


def test_smoothing_moves_towards_observations() -> None:
    assert smooth_speed(None, 12.0, MODEL) == 12.0
    assert 10.0 < smooth_speed(10.0, 20.0, MODEL) < 20.0
