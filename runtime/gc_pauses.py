"""Garbage-collection pauses of a service's process, as a Prometheus histogram.

Why: the API's fan-out and the stream worker's stages hold many long-lived objects (a
connection, its queue and its tasks per client; the stages' tables), and CPython's
cyclic collector stops the event loop while it traverses them: every record and every
client's update waits for it. Measured, not guessed: the pause of each collection, by
generation, from `gc.callbacks` (the tail these pauses caused, and what freezing did to
it: `runtime.gc_freeze`, BENCHMARKS.md).
"""

from __future__ import annotations

import gc
import time
from typing import Any

from prometheus_client import CollectorRegistry, Histogram

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)


class GcPauses:
    """Times every collection while installed; `longest_s` is the worst pause seen."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.histogram = Histogram(
            "dronefleet_gc_pause_seconds",
            "Pauses of the cyclic garbage collector, by generation.",
            ["generation"],
            buckets=BUCKETS,
            registry=registry,
        )
        self.longest_s = 0.0
        self._started = 0.0

    def install(self) -> None:
        """Start timing collections (idempotent)."""
        if self._on_gc not in gc.callbacks:
            gc.callbacks.append(self._on_gc)

    def uninstall(self) -> None:
        """Stop timing (an app torn down in a test must not leave its callback behind)."""
        if self._on_gc in gc.callbacks:
            gc.callbacks.remove(self._on_gc)

    def _on_gc(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        pause = time.perf_counter() - self._started
        self.longest_s = max(self.longest_s, pause)
        self.histogram.labels(str(info.get("generation", "?"))).observe(pause)
