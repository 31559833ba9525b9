"""Prometheus metrics of a stream worker: what the telemetry gate decided, by verdict.

Operators see a surge of one dead-letter reason here within a scrape (`future_timestamp`:
drones' clocks drifting; `impossible_speed`: a bad GPS; `undecodable`: a broken
producer) instead of counting rows of `dead_letters` after the fact. The counts are the
gate's own (`TelemetryGate.counts`), read when Prometheus scrapes; the worker serves them
from its own registry on `metrics_port`, in a thread next to its event loop.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from streams.processors.telemetry_gate import TelemetryGate


class GateCollector(Collector):
    """Reads the gate's verdict counts when Prometheus scrapes."""

    def __init__(self, gate: TelemetryGate) -> None:
        self.gate = gate

    def collect(self) -> Iterator[CounterMetricFamily]:
        """One counter, labelled by verdict: `valid`, `milestone` or a dead-letter reason."""
        family = CounterMetricFamily(
            "dronefleet_gate_records",
            "Telemetry records the gate judged since the worker started, by verdict: "
            "valid, milestone, or the reason it dead-lettered them.",
            labels=["verdict"],
        )
        counts = dict(self.gate.counts)  # one copy: the event loop adds to it meanwhile
        for verdict in sorted(counts):
            family.add_metric([verdict], counts[verdict])
        yield family


def gate_registry(gate: TelemetryGate) -> CollectorRegistry:
    """A registry holding the gate's counts and nothing else."""
    registry = CollectorRegistry()
    registry.register(GateCollector(gate))
    return registry


def serve(registry: CollectorRegistry, host: str, port: int) -> int:
    """Serve `/metrics` from a background thread; the port it listens on (0: any free)."""
    server, _ = start_http_server(port, addr=host, registry=registry)
    return int(server.server_port)
