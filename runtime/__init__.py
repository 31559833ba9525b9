"""Process plumbing the services share that is not about Kafka.

Like `kafkaio`, services may import it and it imports no service (import-linter). It
holds what every service process needs the same way: keeping long-lived objects out of
the collector's full passes (`runtime.gc_freeze`: the API's fan-out and the stream
worker's stages both paid for them) and timing its pauses (`runtime.gc_pauses`), the
health and metrics endpoint (`runtime.probes`) and the logging setup (`runtime.logs`),
so that probes, scrapes and log lines look alike whichever service answers.
"""

from runtime.gc_freeze import GcFreezeSettings, freeze_periodically
from runtime.gc_pauses import GcPauses
from runtime.logs import LogSettings, configure_logging, logging_config
from runtime.probes import (
    Heartbeat,
    Probes,
    ProbeServer,
    ProbeSettings,
    Readiness,
    beat_forever,
    serve_probes,
)

__all__ = [
    "GcFreezeSettings",
    "GcPauses",
    "Heartbeat",
    "LogSettings",
    "ProbeServer",
    "ProbeSettings",
    "Probes",
    "Readiness",
    "beat_forever",
    "configure_logging",
    "freeze_periodically",
    "logging_config",
    "serve_probes",
]
