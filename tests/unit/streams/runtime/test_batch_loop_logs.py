"""A batched stage logs each dead letter and processing error with the record's ids."""

from __future__ import annotations

import json
import logging
from datetime import datetime

import pytest

from runtime.logs import JsonFormatter
from streams.processors.records import Outgoing, OutTopic, SourceRecord, dead_letter
from streams.runtime.batch_loop import process_records
from tests.support.factories import T0, fix
from tests.support.processor_inputs import record

OUTPUTS: dict[OutTopic, str] = {
    "deadletter": "p-deadletter",
    "delivery_telemetry": "p-delivery-telemetry",
}


def refuse_or_fail(source: SourceRecord, now: datetime) -> list[Outgoing]:
    """A processor refusing offset 0 (a dead letter) and failing on offset 1 (a bug)."""
    if source.offset == 0:
        return [dead_letter(source, "gate", "impossible_speed", "99 m/s", now)]
    if source.offset == 1:
        raise RuntimeError("a processor bug")
    return [Outgoing("delivery_telemetry", b"d1", source.value)]


def test_dead_letters_and_errors_are_logged_with_the_delivery_and_the_drone(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="streams.runtime.batch_loop")
    records = [
        record(fix("drone-7", delivery_id="d-7", phase="to_dropoff"), offset=0),
        record(fix("drone-8"), offset=1),
        record(fix("drone-9"), offset=2),  # passes: no line
        record(b"\xff not json", offset=3),
    ]

    def garbage_too(source: SourceRecord, now: datetime) -> list[Outgoing]:
        if source.offset == 3:
            return [dead_letter(source, "gate", "undecodable", "bytes", now)]
        return refuse_or_fail(source, now)

    wire = process_records(garbage_too, "gate", records, OUTPUTS, T0)
    assert len(wire) == 4

    formatter = JsonFormatter("streams")
    lines = [json.loads(formatter.format(r)) for r in caplog.records]
    fields = [
        (line["level"], line.get("delivery_id"), line.get("drone_id"), line["partition"])
        for line in lines
    ]
    assert fields == [
        ("warning", "d-7", "drone-7", 0),  # refused
        ("error", None, "drone-8", 0),  # the bug
        ("warning", None, "drone-8", 0),  # ... dead-lettered
        ("warning", None, None, 0),  # undecodable: its place only
    ]
    assert "impossible_speed" in lines[0]["message"]
    assert "processing_error" in lines[2]["message"]
