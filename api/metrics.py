"""Prometheus metrics of the API process: websocket fan-out and the tracking consumer.

One registry per app (not the global one), so that tests creating several apps in one
process do not collide, and `/metrics` shows exactly this process's numbers.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from api.gc_pauses import GcPauses
from api.hub import TrackingHub


@dataclass
class ApiMetrics:
    """The API's instruments, registered in their own registry."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.ws_connections = Gauge(
            "dronefleet_ws_connections", "Open tracking websockets.", registry=self.registry
        )
        self.ws_refused = Counter(
            "dronefleet_ws_refused",
            "Websocket handshakes refused before accept.",
            ["reason"],
            registry=self.registry,
        )
        self.ws_messages = Counter(
            "dronefleet_ws_messages", "Tracking messages sent to clients.", registry=self.registry
        )
        self.deliveries_requested = Counter(
            "dronefleet_deliveries_requested",
            "Delivery requests accepted (202).",
            registry=self.registry,
        )
        self.key_lookups = Counter(
            "dronefleet_api_key_lookups",
            "Business key ids looked up in the read model (cache misses, known or not).",
            registry=self.registry,
        )
        self.gc_pauses = GcPauses(self.registry)

    def watch(self, hub: TrackingHub) -> None:
        """Expose the hub's own counters, read at scrape time."""
        self.registry.register(_HubCollector(hub))


class _HubCollector(Collector):
    """Reads the tracking hub's counters when Prometheus scrapes."""

    def __init__(self, hub: TrackingHub) -> None:
        self.hub = hub

    def collect(self) -> Iterator[CounterMetricFamily]:
        """The consumed, coalesced and dropped counts."""
        yield CounterMetricFamily(
            "dronefleet_tracking_consumed",
            "Tracking records read from Kafka by this process.",
            value=self.hub.consumed,
        )
        yield CounterMetricFamily(
            "dronefleet_ws_coalesced",
            "Updates replaced by newer ones in slow clients' queues.",
            value=self.hub.coalesced,
        )
        yield CounterMetricFamily(
            "dronefleet_ws_dropped",
            "Clients dropped after missing too many updates in a row (not reading).",
            value=self.hub.dropped,
        )
