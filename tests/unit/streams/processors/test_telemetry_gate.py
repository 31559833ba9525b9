"""The telemetry gate without Kafka: validation verdicts and routing, with plain records."""

from __future__ import annotations

from datetime import timedelta

from contracts import (
    FLEET_HEARD_MAX,
    FleetHeard,
    GeoPoint,
    decode_dead_letter,
    decode_event,
    encode_event,
)
from streams.processors.telemetry_gate import FLEET_KEY, TelemetryGate
from tests.support.factories import DEPOT, T0, fix
from tests.support.processor_inputs import milestone, record


def test_gate_dead_letters_garbage_with_reason_and_original_bytes() -> None:
    gate = TelemetryGate()
    (out,) = gate.process(record(b"\x00garbage"), T0)
    assert out.topic == "deadletter"
    letter = decode_dead_letter(out.value)
    assert letter.reason == "undecodable"
    assert letter.original_value() == b"\x00garbage"
    assert gate.counts == {"undecodable": 1}


def heard(gate: TelemetryGate) -> list[tuple[str, int]]:
    """The batch's word to dispatch, as (drone, its fix's second) pairs; empties it."""
    told = []
    for out in gate.fleet_heard(T0):
        assert (out.topic, out.key) == ("dispatch", FLEET_KEY)
        event = decode_event(out.value)
        assert isinstance(event, FleetHeard)
        told += [(d.drone_id, int((d.occurred_at - T0).total_seconds())) for d in event.drones]
    return told


def test_gate_routes_on_mission_fixes_by_delivery_and_tells_dispatch_of_changes() -> None:
    gate = TelemetryGate(fleet_refresh=timedelta(seconds=30))
    assert [o.topic for o in gate.process(record(fix(seq=1)), T0)] == ["accepted_telemetry"]
    assert heard(gate) == [("drone-1", 0)]  # a drone dispatch never saw
    assert [
        o.topic for o in gate.process(record(fix(seq=2, at=T0 + timedelta(seconds=1))), T0)
    ] == [
        "accepted_telemetry"  # no news for dispatch
    ]
    assert heard(gate) == []
    on_mission = fix(seq=3, at=T0 + timedelta(seconds=2), delivery_id="d1", phase="to_pickup")
    outs = gate.process(record(on_mission), T0)
    assert [(o.topic, o.key) for o in outs] == [
        ("accepted_telemetry", b"drone-1"),
        ("delivery_telemetry", b"d1"),
    ]
    later = fix(seq=4, at=T0 + timedelta(seconds=40))
    assert [o.topic for o in gate.process(record(later), later.occurred_at)] == [
        "accepted_telemetry",
    ]
    assert heard(gate) == [("drone-1", 2), ("drone-1", 40)]  # in fix order, one record


def test_dispatch_hears_of_a_batch_of_drones_in_records_under_the_broker_limit() -> None:
    gate = TelemetryGate()
    drones = [f"drone-{n}" for n in range(FLEET_HEARD_MAX + 5)]
    for name in drones:
        gate.process(record(fix(name, seq=1)), T0)
    records = gate.fleet_heard(T0)
    assert len(records) == 2
    assert max(len(r.value) for r in records) < 500_000
    told = [decode_event(r.value) for r in records]
    assert [e.sequence for e in told if isinstance(e, FleetHeard)] == [1, 2]
    names = [d.drone_id for e in told if isinstance(e, FleetHeard) for d in e.drones]
    assert names == drones
    assert gate.fleet_heard(T0) == []  # told once


def test_every_accepted_fix_goes_to_the_history_as_sent_and_no_refused_one() -> None:
    gate = TelemetryGate()
    far = GeoPoint(DEPOT.lat + 0.02, DEPOT.lon)
    sent = encode_event(fix(seq=1))
    (accepted,) = gate.process(record(sent), T0)
    assert (accepted.topic, accepted.key, accepted.value) == (
        "accepted_telemetry",
        b"drone-1",
        sent,
    )
    refused = [
        fix(seq=1),  # duplicate
        fix(seq=2, at=T0 + timedelta(days=2)),  # from the future
        fix(seq=3, at=T0 - timedelta(days=30)),  # too old
        fix(seq=4, at=T0 + timedelta(seconds=1), position=GeoPoint(0.0, 0.0)),  # null island
        fix(seq=5, at=T0 + timedelta(seconds=1), position=far),  # 2.2 km in one second
    ]
    for bad in refused:
        assert [o.topic for o in gate.process(record(bad), T0)] == ["deadletter"]


def test_gate_refuses_a_duplicate() -> None:
    gate = TelemetryGate()
    gate.process(record(fix(seq=1)), T0)
    (out,) = gate.process(record(fix(seq=1)), T0)
    assert decode_dead_letter(out.value).reason == "duplicate_sequence"


def test_the_gate_passes_milestones_to_dispatch_at_once() -> None:
    gate = TelemetryGate()
    gate.process(record(fix(seq=1)), T0)
    heard(gate)
    sent = milestone("drone-1", "returned", T0)
    accepted, out = gate.process(record(sent), T0)
    assert (accepted.topic, accepted.key) == ("accepted_telemetry", b"drone-1")
    assert accepted.value == record(sent).value  # the original bytes, not re-encoded
    assert (out.topic, out.key) == ("dispatch", FLEET_KEY)
    assert gate.counts["milestone"] == 1


def test_gate_tells_dispatch_of_every_change_of_mission() -> None:
    """A drone back from a mission (no delivery, flying home) is passed on at once, so that
    dispatch does not take its idle fix for a drone that forgot its mission (a restart)."""
    gate = TelemetryGate(fleet_refresh=timedelta(seconds=30))

    def told(seq: int, **what: str) -> bool:
        sent = fix(seq=seq, at=T0 + timedelta(seconds=seq), **what)  # type: ignore[arg-type]
        gate.process(record(sent), T0)
        return heard(gate) == [("drone-1", seq)]

    assert told(1, delivery_id="d1", phase="to_dropoff")
    assert not told(2, delivery_id="d1", phase="to_dropoff")  # no news
    assert told(3, phase="returning")  # the mission is over
    assert not told(4, phase="returning")
    assert told(5)  # idle: available again
    assert TelemetryGate().fleet_refresh <= timedelta(seconds=5), "well under silent_after"
