"""The sink logs the delivery events it recorded, with their ids, and each record it refused."""

from __future__ import annotations

import json
import logging

import pytest

from contracts import AnyEvent, encode_event
from projections.sink import SinkStats, build_rows, log_recorded
from runtime.logs import JsonFormatter
from tests.support.factories import assigned, fix, requested


def test_the_deliveries_topic_s_events_are_logged_with_their_ids_and_refusals_said(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="projections.sink")
    records = [
        ("p-deliveries", encode_event(requested("d-1"))),
        ("p-accepted-telemetry", encode_event(fix("drone-1", 1))),  # history: not logged
        ("p-deliveries", encode_event(assigned("d-1", "drone-1"))),
        ("p-tracking", b"\xff not an event"),
    ]
    recorded: list[AnyEvent] = []
    stats = SinkStats()

    build_rows(records, stats, "p-deadletter", ("p-deliveries", recorded))
    log_recorded(recorded)

    formatter = JsonFormatter("projections")
    lines = [json.loads(formatter.format(r)) for r in caplog.records]
    assert [(line["level"], line.get("delivery_id"), line.get("drone_id")) for line in lines] == [
        ("warning", None, None),  # the refused record, by topic
        ("info", "d-1", None),
        ("info", "d-1", "drone-1"),
    ]
    assert lines[0]["topic"] == "p-tracking" and stats.undecodable == 1
    assert "DroneAssigned" in lines[2]["message"]
