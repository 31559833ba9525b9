"""The tracking emitter learns the wind from its drones' fixes and times the legs with it.

Through the deliveries processor (dicts for tables): steady-cruise fixes at three headings
in a steady wind make the ETA of a leg downwind shorter than the no-wind one; fixes at
one heading teach nothing, and the ETA is exactly the no-wind one (issue 19, part 3).
"""

from __future__ import annotations

import math
from datetime import timedelta

import msgspec

from contracts import GeoPoint, TrackingUpdated, decode_event
from streams.domain.wind import Wind, WindModel
from streams.processors.delivery_processor import DeliveryProcessor
from streams.processors.delivery_repository import DeliveryRepository
from tests.support.factories import DROPOFF, PICKUP, T0, assigned, fix, requested
from tests.support.processor_inputs import record

AIR = 15.0
WIND = Wind(east=0.0, north=6.0)  # towards the north: the drop-off is north-east of the pickup


def processor(*, wind: bool) -> DeliveryProcessor:
    return DeliveryProcessor.over_tables(
        DeliveryRepository(states={}, tracking={}, parked={}),
        commands_topic="delivery-commands",
        min_interval=timedelta(seconds=1),
        wind=wind,
    )


def cruise(processor: DeliveryProcessor, delivery: str, drone: str, track_deg: float) -> None:
    """A drone on `delivery` cruising 30 s at track `track_deg` in WIND, one fix a second."""
    for event in (requested(delivery), assigned(delivery, drone)):
        processor.process(record(event, "deliveries"), T0)
    east, north = math.sin(math.radians(track_deg)), math.cos(math.radians(track_deg))
    speed = WindModel(airspeed_mps=AIR).ground_speed(WIND, east, north)
    for second in range(30):
        at = T0 + timedelta(seconds=second)
        sent = msgspec.structs.replace(
            fix(
                drone, second + 1, at, PICKUP, delivery_id=delivery, phase="to_pickup", speed=speed
            ),
            heading_deg=track_deg,
        )
        processor.process(record(sent, "delivery-telemetry"), at)


def eta_s(processor: DeliveryProcessor) -> float:
    """The ETA of a drone waiting on the ground at the pickup's neighbour, 60 s in."""
    for event in (requested("d9"), assigned("d9", "drone-9")):
        processor.process(record(event, "deliveries"), T0)
    at = T0 + timedelta(seconds=60)
    start = GeoPoint(PICKUP.lat - 0.01, PICKUP.lon)
    sent = fix("drone-9", 1, at, start, delivery_id="d9", phase="to_pickup", speed=0.0)
    sent = msgspec.structs.replace(sent, altitude_m=0.0)
    (out,) = processor.process(record(sent, "delivery-telemetry"), at)
    update = decode_event(out.value)
    assert isinstance(update, TrackingUpdated) and update.eta is not None
    return (update.eta - at).total_seconds()


def test_a_wind_learned_at_three_headings_shortens_the_legs_downwind() -> None:
    windy, calm = processor(wind=True), processor(wind=False)
    for p in (windy, calm):
        for n, track in enumerate((0.0, 120.0, 240.0)):
            cruise(p, f"d{n}", f"drone-{n}", track)
    assert DROPOFF.lat > PICKUP.lat  # both legs fly north, downwind
    assert eta_s(windy) < eta_s(calm) - 5.0


def test_fixes_at_one_heading_teach_no_wind() -> None:
    windy, calm = processor(wind=True), processor(wind=False)
    for p in (windy, calm):
        for n in range(3):
            cruise(p, f"d{n}", f"drone-{n}", 90.0)
    assert eta_s(windy) == eta_s(calm)
