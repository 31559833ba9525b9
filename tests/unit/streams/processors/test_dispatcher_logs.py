"""Dispatch's decisions are logged with the delivery's and the drone's ids (JSON fields)."""

from __future__ import annotations

import json
import logging

import pytest

from runtime.logs import JsonFormatter
from tests.support.factories import DROPOFF, PICKUP, T0, fix, requested
from tests.support.processor_inputs import record
from tests.unit.streams.processors.test_dispatcher import new_dispatcher, seconds, tick


def json_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, object]]:
    """The captured records of the dispatcher as the JSON formatter writes them."""
    formatter = JsonFormatter("streams")
    return [
        json.loads(formatter.format(r))
        for r in caplog.records
        if r.name == "streams.processors.dispatcher"
    ]


def test_a_proposal_a_lost_drone_and_its_withdrawal_carry_the_ids(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="streams.processors.dispatcher")
    dispatcher = new_dispatcher()
    dispatcher.process(tick(T0), T0)
    dispatcher.process(record(fix("x", seq=1, position=PICKUP), "dispatch"), T0)
    dispatcher.process(record(fix("y", seq=1, position=DROPOFF), "dispatch"), T0)
    dispatcher.process(record(requested("d1"), "dispatch"), T0)
    for n in (5, 10, 15):  # y keeps reporting, x is silent
        dispatcher.process(record(fix("y", seq=n, at=seconds(n), position=DROPOFF), "dispatch"), T0)
        dispatcher.process(tick(seconds(n)), T0)
    dispatcher.process(tick(seconds(16)), T0)  # x lost, d1 withdrawn

    lines = json_lines(caplog)
    ids = [(line.get("delivery_id"), line.get("drone_id"), line["level"]) for line in lines]
    assert ids == [
        ("d1", "x", "info"),  # proposed
        ("d1", "x", "warning"),  # lost on its delivery
        ("d1", "x", "warning"),  # withdrawn
    ]
    assert "proposed" in str(lines[0]["message"]) and "lost" in str(lines[1]["message"])
