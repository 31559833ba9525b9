"""ETA properties: never negative, zero at arrival, exact for a flight that follows the model."""

from __future__ import annotations

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
)
CLIMB_S, DESCENT_S = 12.0, 15.0
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


@given(speed=st.floats(min_value=8, max_value=40), fraction=st.floats(min_value=0, max_value=0.99))
def test_a_cruising_drone_on_the_last_leg_is_exact(speed: float, fraction: float) -> None:
    """At cruise altitude and constant ground speed: distance / speed + descent + dwell."""
    position = GeoPoint(
        PICKUP.lat + (DROPOFF.lat - PICKUP.lat) * fraction,
        PICKUP.lon + (DROPOFF.lon - PICKUP.lon) * fraction,
    )
    remaining = distance_m(position, DROPOFF)
    eta = estimate("en_route_to_dropoff", position, 60.0, PICKUP, DROPOFF, speed, T0, MODEL)
    descending = remaining < 20.0  # onto the stop: only the descent and the dwell are left
    truth = 60.0 / 4.0 + 10.0 if descending else remaining / speed + DESCENT_S + 10.0
    assert abs(eta.seconds - truth) < 1e-6


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
    assert abs(landed.seconds - (6.0 + CLIMB_S + leg / 15.0 + DESCENT_S + 10.0)) < 1e-6


def test_a_climbing_drone_counts_the_rest_of_its_climb_at_cruise_speed() -> None:
    eta = estimate("en_route_to_dropoff", PICKUP, 20.0, PICKUP, DROPOFF, 0.5, T0, MODEL)
    leg = distance_m(PICKUP, DROPOFF)
    assert abs(eta.seconds - (40.0 / 5.0 + leg / 15.0 + DESCENT_S + 10.0)) < 1e-6


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
