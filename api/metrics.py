"""Prometheus metrics of the API process: requests, websocket fan-out, the tracking consumer.

One registry per app (not the global one), so that tests creating several apps in one
process do not collide, and `/metrics` shows exactly this process's numbers.

Two latencies an operator asks of the API, both histograms so that Prometheus can take
quantiles over replicas:

- a request's, by route template (`/v1/deliveries/{delivery_id}`, never the id), method
  and status code, timed by `RequestTimer` around everything the app does, the rate
  limiter's 429s and the body limit's 413s included (those have no route yet:
  `UNROUTED`). Every label is a bounded set: the app's routes, the HTTP methods (others
  are `other`), the status codes.
- the end-to-end latency of tracking, from the fix the simulator built (`occurred_at` of
  the `TrackingUpdated`, which is the fix's time) to the API's consumer reading the
  update, and to the update's send on a socket (`socket`: `delivery`, a customer's; `fleet`,
  the operators'). Snapshots sent on connect are not counted: their age is the
  delivery's, not the pipeline's. Both clocks are wall clocks of different processes,
  so across machines the figure includes their skew (NTP keeps it to milliseconds).
  The budget (BENCHMARKS.md: p99 under 250 ms) is an alert rule's parameter
  (deploy/prometheus/alerts.yml, DronefleetEndToEndLatencyHigh); the buckets bracket it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.gc_pauses import GcPauses
from api.hub import TrackingHub
from contracts import TrackingUpdated

REQUEST_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
"""A request's seconds: a cached read answers in a millisecond, a slow query in seconds."""

END_TO_END_BUCKETS = (
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.15,
    0.2,
    0.25,
    0.3,
    0.4,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    10.0,
)
"""Fix-to-API seconds: fine around the 250 ms budget (a bound of its own), coarse beyond."""

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
"""Methods kept as labels; any other a client sends is `other` (the label set stays bounded)."""

UNROUTED = "unrouted"
"""The route label of a request no route took: refused before routing (429, 413) or 404."""

SocketKind = Literal["delivery", "fleet"]


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
        self.requests = Histogram(
            "dronefleet_api_request_seconds",
            "HTTP requests by route template, method and status code, and how long each took.",
            ["route", "method", "status"],
            buckets=REQUEST_BUCKETS,
            registry=self.registry,
        )
        self.fix_to_consumer = Histogram(
            "dronefleet_tracking_fix_to_consumer_seconds",
            "From a tracking update's fix (its occurred_at) to the API's consumer reading it.",
            buckets=END_TO_END_BUCKETS,
            registry=self.registry,
        )
        self.fix_to_socket = Histogram(
            "dronefleet_tracking_fix_to_socket_seconds",
            "From a tracking update's fix (its occurred_at) to its send on a websocket, by "
            "socket kind (delivery: a customer's; fleet: the operators').",
            ["socket"],
            buckets=END_TO_END_BUCKETS,
            registry=self.registry,
        )
        self.gc_pauses = GcPauses(self.registry)

    def watch(self, hub: TrackingHub) -> None:
        """Expose the hub's own counters, read at scrape time, and time what it reads."""
        self.registry.register(_HubCollector(hub))
        hub.on_received = self.observe_received

    def observe_received(self, update: TrackingUpdated) -> None:
        """The consumer read `update` now: its fix's age is the pipeline's latency so far."""
        self.fix_to_consumer.observe(_age_s(update))

    def observe_sent(self, socket: SocketKind, update: TrackingUpdated) -> None:
        """`update` went out on a socket of this kind now (not a snapshot on connect)."""
        self.fix_to_socket.labels(socket).observe(_age_s(update))


def _age_s(update: TrackingUpdated) -> float:
    """Seconds since the update's fix; never negative (a clock ahead reads as no wait)."""
    return max(time.time() - update.occurred_at.timestamp(), 0.0)


class RequestTimer:
    """ASGI middleware timing every HTTP request into `ApiMetrics.requests`.

    Outermost but for Starlette's error handler, so the refusals of `RequestLimits` are
    timed too. The route is read after the app ran: the router leaves the matched route
    in the scope, and its `path` is the template. The metrics are looked up per request
    (the app's `Services`, made by the lifespan): before startup nothing is timed.
    Websockets are not requests: their counts are `dronefleet_ws_*`.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # an exception that escapes the app is answered 500 by Starlette

        async def noting_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, noting_send)
        finally:
            metrics = _metrics_of(scope)
            if metrics is not None:
                method = scope["method"] if scope["method"] in METHODS else "other"
                metrics.requests.labels(route_of(scope), method, str(status)).observe(
                    time.perf_counter() - started
                )


def route_of(scope: Scope) -> str:
    """The template of the route that took the request (`UNROUTED` if none did)."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) and path else UNROUTED


def _metrics_of(scope: Scope) -> ApiMetrics | None:
    """The app's metrics, once its lifespan made them."""
    services = getattr(getattr(scope.get("app"), "state", None), "services", None)
    metrics = getattr(services, "metrics", None)
    return metrics if isinstance(metrics, ApiMetrics) else None


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
