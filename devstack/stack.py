"""Bring the whole local stack up or down, idempotently, and report its status.

`up` starts what is not running, waits until the servers are healthy and creates the
platform's topics (and, on a broker with SASL, the services' users and ACLs); a second
`up` finds everything running and changes nothing. The servers: Kafka, PostgreSQL and,
unless `DRONEFLEET_STACK_PROMETHEUS=false`, Prometheus (`devstack.prometheus`), which
scrapes the services the demo and the tests start.
"""

from __future__ import annotations

from dataclasses import dataclass

from contracts import Topics
from devstack.kafka import KafkaNode
from devstack.postgres import PostgresNode
from devstack.prometheus import PrometheusNode
from devstack.settings import StackSettings


@dataclass(frozen=True, slots=True)
class StackStatus:
    """Whether each server runs and answers."""

    kafka_running: bool
    kafka_healthy: bool
    postgres_running: bool
    postgres_healthy: bool
    prometheus_running: bool = False
    prometheus_healthy: bool = False

    @property
    def healthy(self) -> bool:
        """Both servers answer."""
        return self.kafka_healthy and self.postgres_healthy


@dataclass(frozen=True, slots=True)
class UpResult:
    """What `up` did: which servers it started and which topics it created."""

    started_kafka: bool
    started_postgres: bool
    created_topics: list[str]
    started_prometheus: bool = False


def up(settings: StackSettings, topics: Topics | None = None) -> UpResult:
    """Start Kafka and PostgreSQL unless running, wait for health, create topics."""
    kafka = KafkaNode(settings)
    postgres = PostgresNode(settings)
    started_postgres = postgres.start()
    started_kafka = kafka.start()
    postgres.wait_healthy(settings.start_timeout_s)
    kafka.wait_healthy(settings.start_timeout_s)
    layout = topics or Topics.with_prefix()
    created = kafka.create_topics(layout.all())
    kafka.secure(layout)
    started_prometheus = False
    if settings.prometheus:
        prometheus = PrometheusNode(settings)
        started_prometheus = prometheus.start()
        if prometheus.pid() is not None:
            prometheus.wait_healthy(settings.start_timeout_s)
    return UpResult(started_kafka, started_postgres, created, started_prometheus)


def down(settings: StackSettings) -> tuple[bool, bool]:
    """Stop the servers; return (kafka was running, postgres was running).

    Prometheus stops first (it would only record the others going away).
    """
    PrometheusNode(settings).stop()
    return KafkaNode(settings).stop(), PostgresNode(settings).stop()


def status(settings: StackSettings) -> StackStatus:
    """Probe both servers without changing anything."""
    kafka = KafkaNode(settings)
    postgres = PostgresNode(settings)
    kafka_running = kafka.pid() is not None
    postgres_running = postgres.running()
    prometheus = PrometheusNode(settings)
    prometheus_running = prometheus.pid() is not None
    return StackStatus(
        kafka_running=kafka_running,
        kafka_healthy=kafka_running and kafka.healthy(),
        postgres_running=postgres_running,
        postgres_healthy=postgres_running and postgres.healthy(),
        prometheus_running=prometheus_running,
        prometheus_healthy=prometheus_running and prometheus.healthy(),
    )
