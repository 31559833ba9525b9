"""The agents' logic without Kafka: gate, delivery processor and dispatcher, with dicts."""

from __future__ import annotations

from datetime import timedelta

from contracts import (
    DroneAssigned,
    TrackingUpdated,
    decode_dead_letter,
    decode_event,
    encode_event,
)
from contracts.events import Event
from streams.processors import DeliveryProcessor, Dispatcher, SourceRecord, TelemetryGate
from tests.factories import DROPOFF, PICKUP, T0, assigned, delivered, fix, picked_up, requested


def record(event: Event | bytes, topic: str = "telemetry", offset: int = 0) -> SourceRecord:
    value = event if isinstance(event, bytes) else encode_event(event)
    return SourceRecord(topic, 0, offset, b"k", value)


def test_gate_dead_letters_garbage_with_reason_and_original_bytes() -> None:
    gate = TelemetryGate()
    (out,) = gate.process(record(b"\x00garbage"), T0)
    assert out.topic == "deadletter"
    letter = decode_dead_letter(out.value)
    assert letter.reason == "undecodable"
    assert letter.original_value() == b"\x00garbage"
    assert gate.counts == {"undecodable": 1}


def test_gate_routes_on_mission_fixes_by_delivery() -> None:
    gate = TelemetryGate()
    assert gate.process(record(fix(seq=1)), T0) == []
    (out,) = gate.process(
        record(fix(seq=2, at=T0 + timedelta(seconds=1), delivery_id="d1", phase="to_pickup")), T0
    )
    assert (out.topic, out.key) == ("delivery_telemetry", b"d1")
    assert not gate.fleet["drone-1"].idle


def test_gate_refuses_a_duplicate() -> None:
    gate = TelemetryGate()
    gate.process(record(fix(seq=1)), T0)
    (out,) = gate.process(record(fix(seq=1)), T0)
    assert decode_dead_letter(out.value).reason == "duplicate_sequence"


def new_processor() -> DeliveryProcessor:
    return DeliveryProcessor(states={}, tracking={}, min_interval=timedelta(seconds=1))


def test_processor_folds_events_and_queues_the_request() -> None:
    processor = new_processor()
    assert processor.process(record(requested(), "deliveries"), T0) == []
    assert "d1" in processor.pending
    processor.process(record(assigned(), "deliveries"), T0)
    state = processor.state("d1")
    assert state is not None and state.status == "assigned"
    assert "d1" not in processor.pending


def test_processor_dead_letters_an_illegal_transition() -> None:
    processor = new_processor()
    (out,) = processor.process(record(picked_up(seq=1), "deliveries"), T0)
    assert decode_dead_letter(out.value).reason == "illegal_transition"


def test_fixes_become_tracking_updates_at_most_once_per_interval() -> None:
    processor = new_processor()
    processor.process(record(requested(), "deliveries"), T0)
    processor.process(record(assigned(), "deliveries"), T0)
    first = processor.process(
        record(fix(seq=1, position=PICKUP, delivery_id="d1", phase="to_pickup", speed=15.0), "dt"),
        T0,
    )
    assert len(first) == 1
    update = decode_event(first[0].value)
    assert isinstance(update, TrackingUpdated)
    assert update.status == "en_route_to_pickup"
    assert update.eta is not None and update.eta > T0
    too_soon = processor.process(
        record(
            fix(
                seq=2,
                at=T0 + timedelta(milliseconds=500),
                position=PICKUP,
                delivery_id="d1",
                phase="to_pickup",
                speed=15.0,
            ),
            "dt",
        ),
        T0,
    )
    assert too_soon == []


def test_delivered_emits_a_final_update_at_the_dropoff() -> None:
    processor = new_processor()
    for event in (requested(), assigned()):
        processor.process(record(event, "deliveries"), T0)
    processor.process(
        record(fix(seq=1, position=PICKUP, delivery_id="d1", phase="to_pickup"), "dt"), T0
    )
    processor.process(record(picked_up(), "deliveries"), T0)
    (out,) = processor.process(record(delivered(), "deliveries"), T0)
    final = decode_event(out.value)
    assert isinstance(final, TrackingUpdated)
    assert final.status == "delivered"
    assert (final.lat, final.lon) == (DROPOFF.lat, DROPOFF.lon)
    assert final.remaining_m == 0 and final.eta == delivered().occurred_at


def test_dispatcher_assigns_the_nearest_idle_drone_once() -> None:
    gate = TelemetryGate()
    gate.process(record(fix("far", position=DROPOFF)), T0)
    gate.process(record(fix("near", position=PICKUP)), T0)
    processor = new_processor()
    processor.process(record(requested("d1"), "deliveries"), T0)
    processor.process(record(requested("d2"), "deliveries"), T0)
    dispatcher = Dispatcher(gate=gate, deliveries=processor)
    outputs = dispatcher.tick(T0)
    assigned_drones = {}
    for out in outputs:
        event = decode_event(out.value)
        assert isinstance(event, DroneAssigned)
        assigned_drones[event.delivery_id] = event.drone_id
    assert assigned_drones == {"d1": "near", "d2": "far"}
    assert dispatcher.tick(T0) == []  # nothing left, no drone double-booked


def test_dispatcher_keeps_waiting_without_a_capable_drone() -> None:
    gate = TelemetryGate()
    gate.process(record(fix("weak", position=PICKUP, battery=15.0)), T0)
    processor = new_processor()
    processor.process(record(requested(), "deliveries"), T0)
    assert Dispatcher(gate=gate, deliveries=processor).tick(T0) == []
    assert "d1" in processor.pending


def test_the_eta_counts_the_dwell_down_while_hovering_at_the_dropoff() -> None:
    processor = new_processor()
    for event in (requested(), assigned(), picked_up()):
        processor.process(record(event, "deliveries"), T0)
    etas = []
    for second in range(3):
        at = T0 + timedelta(seconds=3 + 2 * second)
        (out,) = processor.process(
            record(
                fix(seq=second + 1, at=at, position=DROPOFF, delivery_id="d1", phase="at_dropoff"),
                "dt",
            ),
            T0,
        )
        update = decode_event(out.value)
        assert isinstance(update, TrackingUpdated) and update.eta is not None
        etas.append(update.eta)
    assert etas[0] == etas[1] == etas[2], "hovering does not push the arrival back"
    assert etas[0] == T0 + timedelta(seconds=3 + processor.eta_model.dropoff_dwell_s)
