"""ETA properties: never negative, zero at arrival, exact for a constant-speed flight."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from contracts import GeoPoint
from streams.eta import EtaModel, estimate, smooth_speed
from streams.geodesy import distance_m
from tests.factories import DROPOFF, PICKUP, T0

MODEL = EtaModel(cruise_speed_mps=15.0, pickup_dwell_s=10.0, dropoff_dwell_s=10.0)
near = st.builds(
    GeoPoint,
    lat=st.floats(min_value=47.30, max_value=47.45),
    lon=st.floats(min_value=8.45, max_value=8.65),
)
statuses = st.sampled_from(
    ["requested", "assigned", "en_route_to_pickup", "picked_up", "en_route_to_dropoff", "delivered"]
)


@given(position=near, status=statuses, speed=st.floats(min_value=0, max_value=60))
def test_never_negative(position: GeoPoint, status: str, speed: float) -> None:
    eta = estimate(status, position, PICKUP, DROPOFF, speed, T0, MODEL)  # type: ignore[arg-type]
    assert eta.seconds >= 0
    assert eta.remaining_m >= 0
    assert eta.at >= T0


def test_zero_at_arrival() -> None:
    eta = estimate("delivered", DROPOFF, PICKUP, DROPOFF, 0.0, T0, MODEL)
    assert eta.seconds == 0 and eta.remaining_m == 0 and eta.at == T0


@given(speed=st.floats(min_value=8, max_value=40), fraction=st.floats(min_value=0, max_value=1))
def test_constant_speed_flight_is_exact(speed: float, fraction: float) -> None:
    """A drone at constant speed on the last leg arrives when the ETA says (within 1 s)."""
    leg = distance_m(PICKUP, DROPOFF)
    position = GeoPoint(
        PICKUP.lat + (DROPOFF.lat - PICKUP.lat) * fraction,
        PICKUP.lon + (DROPOFF.lon - PICKUP.lon) * fraction,
    )
    remaining = distance_m(position, DROPOFF)
    eta = estimate("en_route_to_dropoff", position, PICKUP, DROPOFF, speed, T0, MODEL)
    truth = T0 + timedelta(seconds=remaining / speed + MODEL.dropoff_dwell_s)
    assert abs((eta.at - truth).total_seconds()) < 1.0
    assert eta.remaining_m <= leg + 1e-6


def test_before_pickup_counts_both_legs_and_both_dwells() -> None:
    eta = estimate("en_route_to_pickup", PICKUP, PICKUP, DROPOFF, 15.0, T0, MODEL)
    leg = distance_m(PICKUP, DROPOFF)
    assert abs(eta.remaining_m - leg) < 1e-6
    assert abs(eta.seconds - (leg / 15.0 + 20.0)) < 1e-6


def test_hovering_drone_does_not_explode_the_eta() -> None:
    eta = estimate("en_route_to_dropoff", PICKUP, PICKUP, DROPOFF, 0.0, T0, MODEL)
    assert (
        eta.seconds <= distance_m(PICKUP, DROPOFF) / (15.0 * MODEL.min_speed_fraction) + 10.0 + 1e-6
    )


def test_smoothing_moves_towards_observations() -> None:
    assert smooth_speed(None, 12.0, MODEL) == 12.0
    assert 10.0 < smooth_speed(10.0, 20.0, MODEL) < 20.0
