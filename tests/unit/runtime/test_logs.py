"""Structured logs: one JSON object per line with the service and the ids a call passes."""

from __future__ import annotations

import io
import json
import logging
import logging.config
import sys

import pytest
from pydantic_settings import SettingsConfigDict

from runtime.logs import JsonFormatter, LogSettings, logging_config


def _one_line(settings: LogSettings) -> str:
    """What one INFO call with a delivery's and a drone's id writes under `settings`."""
    config = logging_config(settings, "streams")
    stream = io.StringIO()
    config["handlers"]["stderr"]["stream"] = stream
    root = logging.getLogger()
    saved = (root.level, list(root.handlers))
    try:
        logging.config.dictConfig(config)
        logger = logging.getLogger("streams.test")
        logger.info("assigned %s", "drone-7", extra={"delivery_id": "d-1", "drone_id": "drone-7"})
        return stream.getvalue()
    finally:
        root.handlers[:] = saved[1]
        root.setLevel(saved[0])


def test_json_lines_carry_service_level_and_ids() -> None:
    line = json.loads(_one_line(LogSettings(log_format="json")))
    assert line["service"] == "streams"
    assert line["level"] == "info"
    assert line["logger"] == "streams.test"
    assert line["message"] == "assigned drone-7"
    assert (line["delivery_id"], line["drone_id"]) == ("d-1", "drone-7")
    assert "business_id" not in line  # only what the call passed


def test_text_stays_readable() -> None:
    text = _one_line(LogSettings(log_format="text"))
    assert text.rstrip().endswith("INFO streams.test assigned drone-7")


def test_level_filters() -> None:
    assert _one_line(LogSettings(log_format="json", log_level="warning")) == ""


def test_exception_is_one_line() -> None:
    formatter = JsonFormatter("api")
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord("api", logging.ERROR, __file__, 1, "failed", (), None)
        record.exc_info = sys.exc_info()
    rendered = formatter.format(record)
    assert "\n" not in rendered
    assert "ValueError: boom" in json.loads(rendered)["exc"]


def test_env_selects_the_format(monkeypatch: pytest.MonkeyPatch) -> None:
    class Settings(LogSettings):
        model_config = SettingsConfigDict(env_prefix="DRONEFLEET_X_")

    monkeypatch.setenv("DRONEFLEET_X_LOG_FORMAT", "json")
    assert Settings().log_format == "json"
