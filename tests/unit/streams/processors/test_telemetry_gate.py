"""The telemetry gate without Kafka: validation verdicts and routing, with plain records."""

from __future__ import annotations

from datetime import timedelta

from contracts import decode_dead_letter
from streams.processors.telemetry_gate import FLEET_KEY, TelemetryGate
from tests.support.factories import T0, fix
from tests.support.processor_inputs import milestone, record


def test_gate_dead_letters_garbage_with_reason_and_original_bytes() -> None:
    gate = TelemetryGate()
    (out,) = gate.process(record(b"\x00garbage"), T0)
    assert out.topic == "deadletter"
    letter = decode_dead_letter(out.value)
    assert letter.reason == "undecodable"
    assert letter.original_value() == b"\x00garbage"
    assert gate.counts == {"undecodable": 1}


def test_gate_routes_on_mission_fixes_by_delivery_and_tells_dispatch_of_changes() -> None:
    gate = TelemetryGate(fleet_refresh=timedelta(seconds=30))
    (first,) = gate.process(record(fix(seq=1)), T0)
    assert (first.topic, first.key) == ("dispatch", FLEET_KEY)  # a drone dispatch never saw
    assert gate.process(record(fix(seq=2, at=T0 + timedelta(seconds=1))), T0) == []  # no news
    on_mission = fix(seq=3, at=T0 + timedelta(seconds=2), delivery_id="d1", phase="to_pickup")
    outs = gate.process(record(on_mission), T0)
    assert [(o.topic, o.key) for o in outs] == [
        ("delivery_telemetry", b"d1"),
        ("dispatch", FLEET_KEY),
    ]
    later = fix(seq=4, at=T0 + timedelta(seconds=40))
    assert [o.topic for o in gate.process(record(later), later.occurred_at)] == ["dispatch"]


def test_gate_refuses_a_duplicate() -> None:
    gate = TelemetryGate()
    gate.process(record(fix(seq=1)), T0)
    (out,) = gate.process(record(fix(seq=1)), T0)
    assert decode_dead_letter(out.value).reason == "duplicate_sequence"


def test_the_gate_passes_milestones_to_dispatch_at_once() -> None:
    gate = TelemetryGate()
    gate.process(record(fix(seq=1)), T0)
    (out,) = gate.process(record(milestone("drone-1", "returned", T0)), T0)
    assert (out.topic, out.key) == ("dispatch", FLEET_KEY)
    assert gate.counts["milestone"] == 1


def test_gate_tells_dispatch_of_every_change_of_mission() -> None:
    """A drone back from a mission (no delivery, flying home) is passed on at once, so that
    dispatch does not take its idle fix for a drone that forgot its mission (a restart)."""
    gate = TelemetryGate(fleet_refresh=timedelta(seconds=30))

    def told(seq: int, **what: str) -> bool:
        sent = fix(seq=seq, at=T0 + timedelta(seconds=seq), **what)  # type: ignore[arg-type]
        return any(out.topic == "dispatch" for out in gate.process(record(sent), T0))

    assert told(1, delivery_id="d1", phase="to_dropoff")
    assert not told(2, delivery_id="d1", phase="to_dropoff")  # no news
    assert told(3, phase="returning")  # the mission is over
    assert not told(4, phase="returning")
    assert told(5)  # idle: available again
    assert TelemetryGate().fleet_refresh <= timedelta(seconds=5), "well under silent_after"
