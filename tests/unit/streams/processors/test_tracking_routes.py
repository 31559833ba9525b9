"""The tracking emitter's ETA along the route around the zones (issue 19), through
`DeliveryProcessor`: planned at the drone's first fix, kept in the tracking memory,
planned again for the next drone after a reschedule."""

from __future__ import annotations

from datetime import timedelta

import msgspec

from contracts import DroneAssigned, GeoPoint, TelemetryReported, TrackingUpdated, decode_event
from streams.domain.geodesy import distance_m, path_length_m
from streams.processors.delivery_processor import DeliveryProcessor
from streams.processors.delivery_repository import DeliveryRepository
from streams.processors.tracking_emitter import AirspaceInForce
from tests.support.airspaces import DEPOT_WEST, EAST_OF_SQUARE, square_rules
from tests.support.factories import T0, fix, requested, rescheduled
from tests.support.processor_inputs import record

RULES = square_rules()
DROPOFF = GeoPoint(47.390, 8.555)


def assigned(drone_id: str, seq: int) -> DroneAssigned:
    """The delivery from east of the square to DROPOFF, given to `drone_id`."""
    return DroneAssigned(
        event_id=f"assigned-{seq}",
        sequence=seq,
        occurred_at=T0,
        recorded_at=T0,
        delivery_id="d1",
        drone_id=drone_id,
        pickup=EAST_OF_SQUARE,
        dropoff=DROPOFF,
    )


def processor(airspace: AirspaceInForce | None) -> DeliveryProcessor:
    """A processor holding delivery d1 (east of the square to DROPOFF), given to drone-1."""
    made = DeliveryProcessor.over_tables(
        DeliveryRepository(states={}, tracking={}, parked={}),
        commands_topic="delivery-commands",
        min_interval=timedelta(seconds=1),
        airspace=airspace,
    )
    request = msgspec.structs.replace(requested(), pickup=EAST_OF_SQUARE, dropoff=DROPOFF)
    made.process(record(request, "deliveries"), T0)
    made.process(record(assigned("drone-1", 2), "deliveries"), T0)
    return made


def depot_fix(drone_id: str, seq: int = 1, at: timedelta = timedelta()) -> TelemetryReported:
    """The drone taking off west of the square, for the pickup east of it."""
    return fix(drone_id, seq, T0 + at, DEPOT_WEST, delivery_id="d1", phase="to_pickup", speed=15.0)


def update_of(made: DeliveryProcessor, sent: TelemetryReported) -> TrackingUpdated:
    (out,) = made.process(record(sent, "dt"), T0)
    update = decode_event(out.value)
    assert isinstance(update, TrackingUpdated)
    return update


def test_the_eta_counts_the_route_round_the_square_not_the_line() -> None:
    routed = update_of(processor(AirspaceInForce(RULES)), depot_fix("drone-1"))
    straight = update_of(processor(None), depot_fix("drone-1"))
    around = path_length_m(list(RULES.route(DEPOT_WEST, EAST_OF_SQUARE)))
    line = distance_m(DEPOT_WEST, EAST_OF_SQUARE)
    last_leg = distance_m(EAST_OF_SQUARE, DROPOFF)  # nothing in its way
    assert around - line > 400
    assert abs(routed.remaining_m - (around + last_leg)) < 1e-6
    assert abs(straight.remaining_m - (line + last_leg)) < 1e-6
    assert routed.eta is not None and straight.eta is not None
    assert routed.eta - straight.eta > timedelta(seconds=(around - line) / 15.0 - 1)


def test_no_airspace_yet_then_the_route_from_the_next_fix() -> None:
    airspace = AirspaceInForce()
    made = processor(airspace)
    first = update_of(made, depot_fix("drone-1"))
    airspace.rules = RULES
    second = update_of(made, depot_fix("drone-1", 2, timedelta(seconds=1)))
    assert second.remaining_m - first.remaining_m > 400


def test_the_route_is_kept_in_the_tracking_memory_and_planned_again_for_a_new_drone() -> None:
    airspace = AirspaceInForce(RULES)
    made = processor(airspace)
    first = update_of(made, depot_fix("drone-1"))
    kept = made.repository.tracking_memory("d1").route
    assert kept is not None and kept.drone_id == "drone-1"
    airspace.rules = None  # planned once: the next fixes go on along the kept route
    second = update_of(made, depot_fix("drone-1", 2, timedelta(seconds=1)))
    assert second.remaining_m == first.remaining_m
    airspace.rules = RULES
    made.process(record(rescheduled(drone_id="drone-1", seq=3), "deliveries"), T0)
    assert made.repository.tracking_memory("d1").route is None
    made.process(record(assigned("drone-2", 4), "deliveries"), T0)
    update_of(made, depot_fix("drone-2", 2, timedelta(seconds=5)))
    again = made.repository.tracking_memory("d1").route
    assert again is not None and again.drone_id == "drone-2"
