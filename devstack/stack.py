"""Bring the whole local stack up or down, idempotently, and report its status.

`up` starts what is not running, waits until both servers are healthy and creates the
platform's topics; a second `up` finds everything running and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from contracts import Topics
from devstack.kafka import KafkaNode
from devstack.postgres import PostgresNode
from devstack.settings import StackSettings


@dataclass(frozen=True, slots=True)
class StackStatus:
    """Whether each server runs and answers."""

    kafka_running: bool
    kafka_healthy: bool
    postgres_running: bool
    postgres_healthy: bool

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


def up(settings: StackSettings, topics: Topics | None = None) -> UpResult:
    """Start Kafka and PostgreSQL unless running, wait for health, create topics."""
    kafka = KafkaNode(settings)
    postgres = PostgresNode(settings)
    started_postgres = postgres.start()
    started_kafka = kafka.start()
    postgres.wait_healthy(settings.start_timeout_s)
    kafka.wait_healthy(settings.start_timeout_s)
    created = kafka.create_topics((topics or Topics.with_prefix()).all())
    return UpResult(started_kafka, started_postgres, created)


def down(settings: StackSettings) -> tuple[bool, bool]:
    """Stop both servers; return (kafka was running, postgres was running)."""
    return KafkaNode(settings).stop(), PostgresNode(settings).stop()


def status(settings: StackSettings) -> StackStatus:
    """Probe both servers without changing anything."""
    kafka = KafkaNode(settings)
    postgres = PostgresNode(settings)
    kafka_running = kafka.pid() is not None
    postgres_running = postgres.running()
    return StackStatus(
        kafka_running=kafka_running,
        kafka_healthy=kafka_running and kafka.healthy(),
        postgres_running=postgres_running,
        postgres_healthy=postgres_running and postgres.healthy(),
    )
