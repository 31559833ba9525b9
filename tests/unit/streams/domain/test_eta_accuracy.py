"""The ETA error report: leads, errors and their statistics on known numbers."""

from __future__ import annotations

from datetime import timedelta

from contracts import TrackingUpdated
from streams.domain.eta_accuracy import prediction_errors, summarize
from tests.support.factories import T0

ARRIVAL = T0 + timedelta(minutes=20)


def update(
    delivery_id: str, at_s: float, eta_s: float | None, status: str = "en_route_to_dropoff"
) -> TrackingUpdated:
    return TrackingUpdated(
        event_id=f"{delivery_id}-{at_s}",
        sequence=int(at_s) + 1,
        occurred_at=T0 + timedelta(seconds=at_s),
        recorded_at=T0 + timedelta(seconds=at_s),
        delivery_id=delivery_id,
        drone_id="x",
        source_event_id="s",
        lat=47.0,
        lon=8.0,
        altitude_m=60.0,
        ground_speed_mps=10.0,
        status=status,  # type: ignore[arg-type]
        remaining_m=0.0,
        eta=None if eta_s is None else T0 + timedelta(seconds=eta_s),
    )


def test_errors_are_eta_minus_arrival_at_each_lead() -> None:
    arrival_s = 1200.0
    updates = [
        update("d1", arrival_s - 600, arrival_s + 30),  # 10 min ahead, 30 s late
        update("d1", arrival_s - 300, arrival_s - 10),  # 5 min ahead, 10 s early
        update("d1", arrival_s - 60, arrival_s + 2),
        update("d1", arrival_s, arrival_s, status="delivered"),
        update("d2", 100, 900),  # never arrived: not counted
    ]
    errors = sorted(prediction_errors(updates))
    assert errors == [(60.0, 2.0), (300.0, -10.0), (600.0, 30.0)]
    one, five, ten = summarize(errors)
    assert (one.count, one.median_abs_error_s) == (1, 2.0)
    assert (five.count, five.median_abs_error_s, five.median_error_s) == (1, 10.0, -10.0)
    assert (ten.count, ten.p90_abs_error_s) == (1, 30.0)


def test_percentiles_over_many_predictions() -> None:
    errors = [(60.0 + i % 20, float(i)) for i in range(1, 101)]  # errors 1..100 s around 1 min
    one, five, _ = summarize(errors, window_s=30)
    assert one.count == 100
    assert one.median_abs_error_s == 50.5
    assert abs((one.p90_abs_error_s or 0) - 90.1) < 1e-9
    assert five.count == 0 and five.median_abs_error_s is None
