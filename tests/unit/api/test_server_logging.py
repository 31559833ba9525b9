"""The API's server logs through `runtime.logs`: its format from the settings, its level asked."""

from __future__ import annotations

import logging

from fastapi import FastAPI

from api.cli import server_config
from api.settings import ApiSettings
from runtime.logs import JsonFormatter


def test_uvicorn_logs_json_at_the_level_asked() -> None:
    root = logging.getLogger()
    saved = (root.level, list(root.handlers))
    try:
        settings = ApiSettings(token_secret="x" * 32, log_format="json")
        config = server_config(FastAPI(), settings, log_level="warning")
        assert isinstance(config.log_config, dict)
        assert config.log_config["root"]["level"] == "WARNING"
        assert root.level == logging.WARNING
        assert isinstance(root.handlers[0].formatter, JsonFormatter)
        assert logging.getLogger("uvicorn.access").propagate, "access lines are JSON too"
    finally:
        root.handlers[:] = saved[1]
        root.setLevel(saved[0])
