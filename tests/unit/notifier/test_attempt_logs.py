"""The notifier logs each attempt with its delivery's id: delivered (debug), failed, dead."""

from __future__ import annotations

import json
import logging

import pytest

from notifier.attempts import Outcome
from notifier.dispatcher import log_attempt
from notifier.store import Due
from runtime.logs import JsonFormatter

DUE = Due(
    message_id="m-1",
    endpoint_id="e-1",
    delivery_id="d-1",
    url="https://hooks.example.com/secret-path?token=abc",
    secret_version=1,
    body=b"{}",
    failures=0,
    endpoint_failures=0,
)


def test_each_attempt_is_logged_with_the_delivery_and_never_the_url(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="notifier.dispatcher")
    log_attempt(DUE, Outcome(True, "delivered", 204, 12.0, ""), None)
    log_attempt(DUE, Outcome(False, "http_error", 503, 30.0, "busy"), 5.0)
    log_attempt(DUE, Outcome(False, "timeout", None, 10_000.0, "timeout"), None)

    formatter = JsonFormatter("notifier")
    lines = [json.loads(formatter.format(r)) for r in caplog.records]
    assert [(line["level"], line["delivery_id"]) for line in lines] == [
        ("debug", "d-1"),
        ("warning", "d-1"),
        ("error", "d-1"),
    ]
    assert "dead-lettered" in lines[2]["message"]
    assert not any("hooks.example.com" in json.dumps(line) for line in lines)
