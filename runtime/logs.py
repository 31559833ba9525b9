"""Every service's logging, configured once from its settings: JSON lines or plain text.

Why JSON: in Compose and Kubernetes the logs of every service end up in one collector,
and following one delivery through them (README, "Following a delivery through the
logs") needs fields a machine can filter on, not text to grep: the service, the level,
the logger and, where a log call passes them (`extra={"delivery_id": ...}`), the
delivery's and the drone's ids. Locally a person reads them in a terminal, so text stays
the default and Compose and the Kubernetes manifests set `..._LOG_FORMAT=json`.

The configuration is a `logging.config.dictConfig` dictionary, not a call, because two
servers configure logging themselves and take such a dictionary: Faust's worker (mode's
`logging_config`) and uvicorn (`log_config`). Handing them ours keeps one format per
process instead of theirs beside ours.
"""

from __future__ import annotations

import json
import logging
import logging.config
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic_settings import BaseSettings

CONTEXT_FIELDS = ("delivery_id", "drone_id", "business_id", "topic", "partition")
"""Fields a log call may pass in `extra=` that the JSON line carries as its own keys."""

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


class LogSettings(BaseSettings):
    """The logging fields a service's settings inherit (under its own env prefix)."""

    log_format: Literal["text", "json"] = "text"
    """`json`: one JSON object per line (Compose and Kubernetes set it); `text`: for a terminal."""
    log_level: str = "info"
    """The root logger's level: debug, info, warning, error."""


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, service, logger, message and the context."""

    def __init__(self, service: str = "") -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON (an exception's traceback in `exc`)."""
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in CONTEXT_FIELDS:
            value = record.__dict__.get(name)
            if value is not None:
                line[name] = value
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def logging_config(settings: LogSettings, service: str) -> dict[str, Any]:
    """The `dictConfig` dictionary for `service` (Faust's and uvicorn's loggers included).

    Existing loggers stay enabled (libraries create theirs at import), and uvicorn's
    propagate to the root handler instead of printing in their own format.
    """
    formatter: dict[str, Any] = (
        {"()": JsonFormatter, "service": service}
        if settings.log_format == "json"
        else {"format": TEXT_FORMAT}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"dronefleet": formatter},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "dronefleet",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"level": settings.log_level.upper(), "handlers": ["stderr"]},
        "loggers": {
            name: {"handlers": [], "propagate": True}
            for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
        },
    }


def configure_logging(settings: LogSettings, service: str) -> None:
    """Configure the process's logging from the service's settings."""
    logging.config.dictConfig(logging_config(settings, service))
