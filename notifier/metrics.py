"""The notifier's Prometheus metrics (bounded labels: outcomes, never an endpoint id)."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Histogram


@dataclass
class NotifierMetrics:
    """What the notifier counts, in its own registry (served by `runtime.serve_probes`)."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.attempts = Counter(
            "dronefleet_webhook_attempts_total",
            "Webhook posts by outcome (delivered, http_error, timeout, ...).",
            ["outcome"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "dronefleet_webhook_attempt_seconds",
            "How long one webhook post took.",
            registry=self.registry,
        )
        self.dead_lettered = Counter(
            "dronefleet_webhook_dead_lettered_total",
            "Messages whose last retry failed (the business may ask to redeliver them).",
            registry=self.registry,
        )
        self.queued = Counter(
            "dronefleet_webhook_messages_total",
            "Messages put in the outbox.",
            registry=self.registry,
        )
