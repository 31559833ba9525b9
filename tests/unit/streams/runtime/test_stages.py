"""The batched stages' step: raw records in, the records to produce out, in order.

`Stage.handle` is what a consumer loop runs on each fetched batch (the gate's outputs;
the deliveries fold's outputs and then its tables' changelog records); the loop itself
(fetch, produce, commit, rebalance) runs against the real broker in the integration tests.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest

from contracts import (
    AssignDrone,
    DroneMilestone,
    Event,
    FleetHeard,
    decode_dead_letter,
    decode_event,
    encode_command,
    encode_event,
    utc_now,
)
from kafkaio import WireRecord
from streams.processors.delivery_processor import DeliveryProcessor
from streams.processors.delivery_repository import DeliveryRepository
from streams.processors.records import OutTopic, SourceRecord
from streams.processors.telemetry_gate import TelemetryGate
from streams.runtime.changelogged_table import ChangeloggedTable, PartitionNotOwnedError
from streams.runtime.stages import DeliveriesStage, GateStage
from tests.support.factories import T0, assigned, fix, requested

pytestmark = pytest.mark.unit

OUTPUTS: dict[OutTopic, str] = {
    "accepted_telemetry": "t-accepted-telemetry",
    "delivery_telemetry": "t-delivery-telemetry",
    "dispatch": "t-dispatch",
    "deadletter": "t-deadletter",
}


def gate_batch(
    gate: TelemetryGate, records: list[SourceRecord], outputs: dict[OutTopic, str], now: datetime
) -> list[WireRecord]:
    return GateStage(gate, outputs).handle(records, now)


def raw(value: bytes, offset: int = 0, key: bytes = b"x") -> SourceRecord:
    return SourceRecord("t-telemetry", 0, offset, key, value)


def test_a_batch_dead_letters_the_bad_and_routes_the_good_in_order() -> None:
    now = utc_now()
    fresh = fix("x", at=now, delivery_id="d9", phase="to_pickup")
    out = gate_batch(TelemetryGate(), [raw(b"{}"), raw(encode_event(fresh), 1)], OUTPUTS, now)
    assert [r.topic for r in out] == [
        "t-deadletter",
        "t-accepted-telemetry",
        "t-delivery-telemetry",
        "t-dispatch",
    ]
    assert out[1] == WireRecord("t-accepted-telemetry", b"x", encode_event(fresh))
    assert out[2] == WireRecord("t-delivery-telemetry", b"d9", encode_event(fresh))
    assert decode_dead_letter(out[0].value or b"").source_offset == 0
    told = decode_event(out[3].value or b"")  # one word to dispatch, after the batch
    assert isinstance(told, FleetHeard)
    assert [(d.drone_id, d.delivery_id) for d in told.drones] == [("x", "d9")]


def test_a_fleet_milestone_goes_to_dispatch_untouched() -> None:
    now = utc_now()
    returned = DroneMilestone(
        event_id="m1",
        sequence=1,
        occurred_at=now,
        recorded_at=now,
        drone_id="x",
        kind="returned",
        lat=47.37,
        lon=8.53,
        battery_pct=40.0,
    )
    out = gate_batch(TelemetryGate(), [raw(encode_event(returned))], OUTPUTS, now)
    assert out == [
        WireRecord("t-accepted-telemetry", b"x", encode_event(returned)),
        WireRecord("t-dispatch", b"fleet", encode_event(returned)),
    ]


def test_a_processor_failure_dead_letters_that_record_and_the_batch_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = utc_now()
    gate = TelemetryGate()
    real = gate.process
    good = encode_event(fix("x", at=now, delivery_id="d1", phase="to_pickup"))

    def explode_on_first(record: SourceRecord, at: object) -> object:
        if record.offset == 0:
            raise RuntimeError("boom")
        return real(record, now)

    monkeypatch.setattr(gate, "process", explode_on_first)
    out = gate_batch(gate, [raw(b"anything"), raw(good, 1)], OUTPUTS, now)
    letter = decode_dead_letter(out[0].value or b"")
    assert (letter.reason, letter.processor) == ("processing_error", "validate-telemetry")
    assert "boom" in letter.detail
    assert [r.topic for r in out[1:]] == [
        "t-accepted-telemetry",
        "t-delivery-telemetry",
        "t-dispatch",
    ]


def test_a_replayed_batch_is_checked_against_the_memory_from_before_it() -> None:
    """A batch whose sends failed is replayed (`BatchLoop._replay` calls `assigned`): its
    fixes must be accepted again, not refused as duplicates of themselves, or a fix whose
    accepted copy never reached the broker would be missing from the history."""
    now = utc_now()
    stage = GateStage(TelemetryGate(), OUTPUTS)
    first = raw(encode_event(fix("x", 1, at=now - timedelta(seconds=1))))
    stage.handle([first], now)
    batch = [raw(encode_event(fix("x", 2, at=now)), 1)]
    assert [r.topic for r in stage.handle(batch, now)] == ["t-accepted-telemetry"]
    asyncio.run(stage.assigned(set()))  # the loop's reload before the replay
    assert [r.topic for r in stage.handle(batch, now)] == ["t-accepted-telemetry"]
    assert [r.topic for r in stage.handle(batch, now)] == ["t-deadletter"]  # a real repeat


DELIVERY_OUTPUTS: dict[OutTopic, str] = {
    **OUTPUTS,
    "deliveries": "t-deliveries",
    "delivery_commands": "t-delivery-commands",
    "tracking": "t-tracking",
}


def new_deliveries_stage(
    replayed: dict[tuple[str, int], int] | None = None,
) -> tuple[DeliveriesStage, list[ChangeloggedTable]]:
    tables = [ChangeloggedTable(f"t-{name}-changelog") for name in ("state", "tracking", "parked")]
    for table in tables:
        table.load(0, {})
        table.load(1, {})
    states, tracking, parked = tables
    processor = DeliveryProcessor.over_tables(
        DeliveryRepository(states, tracking, parked), commands_topic="t-delivery-commands"
    )
    stage = DeliveriesStage(processor, tables, DELIVERY_OUTPUTS, "unused:9092", replayed)
    return stage, tables


def on(topic: str, event: Event, offset: int, partition: int = 0) -> SourceRecord:
    return SourceRecord(topic, partition, offset, b"d1", encode_event(event))


def test_the_deliveries_stage_sends_outputs_then_one_changelog_record_per_changed_key() -> None:
    stage, _ = new_deliveries_stage()
    flying = [
        fix("drone-1", seq, T0 + timedelta(seconds=seq), delivery_id="d1", phase="to_pickup")
        for seq in (1, 2, 3)
    ]
    batch = [
        SourceRecord("t-deliveries", 1, 0, b"d1", b"\x00 poison"),
        on("t-deliveries", requested("d1"), 1, partition=1),
        on("t-deliveries", assigned("d1"), 2, partition=1),
        *(on("delivery-telemetry", f, 3 + i, partition=1) for i, f in enumerate(flying)),
    ]
    out = stage.handle(batch, T0 + timedelta(seconds=4))

    topics = [r.topic for r in out]
    assert topics[:2] == ["t-deadletter", "t-dispatch"]
    assert topics.count("t-tracking") == 3, "each fix a second apart is an update"
    changelog = [r for r in out if r.topic.endswith("-changelog")]
    assert out[-len(changelog) :] == changelog, "the tables' changes come after the outputs"
    assert sorted((r.topic, r.key, r.partition) for r in changelog) == [
        ("t-state-changelog", b"d1", 1),
        ("t-tracking-changelog", b"d1", 1),
    ], "one record per changed key, on the record's partition"
    state = next(r for r in changelog if r.topic == "t-state-changelog")
    assert state.value is not None and b'"status":"assigned"' in state.value
    assert stage.handle([], T0) == [], "drained: nothing is sent twice"


def test_below_the_rebuild_horizon_the_tables_change_but_nothing_is_sent() -> None:
    stage, (states, _, _) = new_deliveries_stage(replayed={("t-deliveries", 0): 1})
    out = stage.handle([on("t-deliveries", requested("d1"), 0)], T0)
    assert [r.topic for r in out] == ["t-state-changelog"]
    states.partition = 0
    assert b"d1" in states


def test_a_parked_command_is_a_tombstone_once_decided() -> None:
    stage, _ = new_deliveries_stage()
    command = AssignDrone(command_id="c1", delivery_id="d1", issued_at=T0, drone_id="drone-1")
    parked = SourceRecord("t-delivery-commands", 0, 0, b"d1", encode_command(command))
    first = stage.handle([parked], T0)
    assert [(r.topic, r.value is not None) for r in first] == [("t-parked-changelog", True)]
    second = stage.handle([on("t-deliveries", requested("d1"), 0)], T0)
    parked_change = [r for r in second if r.topic == "t-parked-changelog"]
    assert [(r.key, r.value) for r in parked_change] == [(b"d1", None)]
    assert "t-deliveries" in [r.topic for r in second], "the parked assignment was decided"


def test_a_table_forgets_revoked_partitions_and_refuses_unloaded_ones() -> None:
    table = ChangeloggedTable("t-changelog")
    table.load(2, {b"k": b"v"})
    table.partition = 2
    table[b"k2"] = b"v2"
    table.forget({2})
    assert table.owned == frozenset()
    assert table.drain_changes() == [], "a lost partition's pending changes are its new owner's"
    with pytest.raises(PartitionNotOwnedError):
        table[b"k"]
