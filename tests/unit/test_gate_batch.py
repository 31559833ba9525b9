"""The telemetry gate's batch step: raw records in, the records to produce out, in order.

`gate_batch` is what the gate's consumer loop runs on each fetched batch; the loop
itself (fetch, produce, commit) runs against the real broker in the integration tests.
"""

from __future__ import annotations

import pytest

from contracts import DroneMilestone, decode_dead_letter, encode_event, utc_now
from kafkaio import WireRecord
from streams.gate import TelemetryGate
from streams.gate_loop import gate_batch
from streams.records import OutTopic, SourceRecord
from tests.factories import fix

pytestmark = pytest.mark.unit

OUTPUTS: dict[OutTopic, str] = {
    "delivery_telemetry": "t-delivery-telemetry",
    "dispatch": "t-dispatch",
    "deadletter": "t-deadletter",
}


def raw(value: bytes, offset: int = 0, key: bytes = b"x") -> SourceRecord:
    return SourceRecord("t-telemetry", 0, offset, key, value)


def test_a_batch_dead_letters_the_bad_and_routes_the_good_in_order() -> None:
    now = utc_now()
    fresh = fix("x", at=now, delivery_id="d9", phase="to_pickup")
    out = gate_batch(TelemetryGate(), [raw(b"{}"), raw(encode_event(fresh), 1)], OUTPUTS, now)
    assert [r.topic for r in out] == ["t-deadletter", "t-delivery-telemetry", "t-dispatch"]
    assert out[1] == WireRecord("t-delivery-telemetry", b"d9", encode_event(fresh))
    assert decode_dead_letter(out[0].value).source_offset == 0


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
    assert out == [WireRecord("t-dispatch", b"fleet", encode_event(returned))]


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
    letter = decode_dead_letter(out[0].value)
    assert (letter.reason, letter.processor) == ("processing_error", "validate-telemetry")
    assert "boom" in letter.detail
    assert [r.topic for r in out[1:]] == ["t-delivery-telemetry", "t-dispatch"]
