"""Prometheus metrics of a stream worker: what the telemetry gate and dispatch decided.

Operators see a surge of one dead-letter reason here within a scrape (`future_timestamp`:
drones' clocks drifting; `impossible_speed`: a bad GPS; `undecodable`: a broken
producer) instead of counting rows of `dead_letters` after the fact. The counts are the
gate's own (`TelemetryGate.counts`), read when Prometheus scrapes; the worker serves them
from its own registry on `metrics_port`, in a thread next to its event loop.

Dispatch's liveness decisions (`DispatchProcessor.counts`) are counted the same way: a
rise of `drone_lost` is drones going silent (a radio, a simulator down), of
`mission_forgotten` a restarted simulator, of `expired_no_drone_available` a fleet too
small for its demand. Only the worker owning the dispatch partition counts them.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from streams.processors.dispatcher import DispatchProcessor
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


class DispatchCollector(Collector):
    """Reads dispatch's liveness decisions when Prometheus scrapes."""

    def __init__(self, dispatcher: DispatchProcessor) -> None:
        self.dispatcher = dispatcher

    def collect(self) -> Iterator[CounterMetricFamily]:
        """One counter, labelled by decision (`drone_lost`, `drone_found`, ...)."""
        family = CounterMetricFamily(
            "dronefleet_dispatch_liveness",
            "Dispatch's liveness decisions since the worker started, by decision: drones "
            "lost and found, missions forgotten, assignments withdrawn, waits expired.",
            labels=["decision"],
        )
        counts = dict(self.dispatcher.counts)  # one copy: the event loop adds to it
        for decision in sorted(counts):
            family.add_metric([decision], counts[decision])
        yield family


def gate_registry(
    gate: TelemetryGate, dispatcher: DispatchProcessor | None = None
) -> CollectorRegistry:
    """A registry holding the gate's counts (and dispatch's, when given)."""
    registry = CollectorRegistry()
    registry.register(GateCollector(gate))
    if dispatcher is not None:
        registry.register(DispatchCollector(dispatcher))
    return registry


def serve(registry: CollectorRegistry, host: str, port: int) -> int:
    """Serve `/metrics` from a background thread; the port it listens on (0: any free)."""
    server, _ = start_http_server(port, addr=host, registry=registry)
    return int(server.server_port)
