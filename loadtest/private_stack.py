"""A private Kafka and PostgreSQL, on their own ports and in their own home.

Faults are injected by stopping these servers, so they must never be the shared stack
(ports 29092/25432) that other people's tests use. `PrivateStack` picks free ports,
keeps its state in a temporary folder (unless told otherwise) and, on `down`, stops
only the servers it started and removes that folder.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import shutil
import socket
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from aiokafka.errors import KafkaError

from contracts import Topics
from devstack import stack
from devstack.kafka import KafkaNode
from devstack.postgres import PostgresNode
from devstack.settings import StackSettings
from kafkaio.admin import admin_client
from projections.migrate import migrate

SHARED_PORTS = frozenset({29092, 29093, 25432})
"""The shared stack's ports: a private stack refuses them."""


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def private_settings(home: Path | None = None) -> StackSettings:
    """Stack settings with free ports and a home of its own (a temp folder by default)."""
    if home is None:
        home = Path(tempfile.mkdtemp(prefix="dronefleet-private-"))
    # PostgreSQL runs as `postgres` when we are root: let it into the folder.
    home.mkdir(parents=True, exist_ok=True)
    home.chmod(0o755)
    ports = {free_port() for _ in range(6)} - SHARED_PORTS
    kafka, controller, postgres = sorted(ports)[:3]
    return StackSettings(
        home=home,
        kafka_port=kafka,
        kafka_controller_port=controller,
        postgres_port=postgres,
        # A fault run stops and starts these servers on a busy machine: be patient.
        start_timeout_s=300.0,
        # No Prometheus of its own: it would take the shared stack's port when that one
        # is not up yet, and a benchmark measures the platform, not its monitoring.
        prometheus=False,
    )


@dataclass
class PrivateStack:
    """A Kafka and a PostgreSQL of our own, which we may stop and start at will."""

    settings: StackSettings
    remove_home: bool = True
    kafka: KafkaNode = field(init=False)
    postgres: PostgresNode = field(init=False)

    def __post_init__(self) -> None:
        if {self.settings.kafka_port, self.settings.postgres_port} & SHARED_PORTS:
            raise ValueError("a private stack must not use the shared stack's ports")
        self.kafka = KafkaNode(self.settings)
        self.postgres = PostgresNode(self.settings)

    def up(self) -> None:
        """Start both servers and wait until they answer."""
        stack.up(self.settings)

    def down(self) -> None:
        """Stop both servers and, for a temporary home, delete their state."""
        stack.down(self.settings)
        if self.remove_home:
            shutil.rmtree(self.postgres.home, ignore_errors=True)
            shutil.rmtree(self.settings.home, ignore_errors=True)

    def new_topics(self, label: str) -> Topics:
        """A fresh topic layout (own prefix) created on the private broker."""
        topics = Topics.with_prefix(f"{label}{secrets.token_hex(3)}-")
        stack.up(self.settings, topics)
        # A consumer started at once may still be told "unknown topic" and exit.
        asyncio.run(_wait_visible(self.settings.kafka_bootstrap, [t.name for t in topics.all()]))
        return topics

    def new_database(self, label: str) -> str:
        """A fresh, migrated database; returns its name."""
        name = f"{label}_{secrets.token_hex(4)}"
        self.postgres.ensure_database(name)
        migrate(self.settings.dsn_for(name))
        return name

    def restart_postgres(self, down_s: float) -> float:
        """Fast-stop PostgreSQL, keep it down `down_s`, start it; the time it came back."""
        self.postgres.stop()
        time.sleep(down_s)
        self.postgres.start()
        self.postgres.wait_healthy(self.settings.start_timeout_s)
        return time.monotonic()

    def stop_kafka(self) -> None:
        """Stop the broker (controlled shutdown)."""
        self.kafka.stop()

    def start_kafka(self, timeout_s: float = 300.0) -> float:
        """Start the broker and wait until it answers; the time it came back.

        The wait is long on purpose: how long the broker takes to come back (log
        recovery after its stop) is part of what a Kafka outage costs, not a failure.
        """
        self.kafka.start()
        self.kafka.wait_healthy(timeout_s)
        return time.monotonic()

    def delete_topics(self, topics: Topics) -> None:
        """Delete a run's topics and its workers' changelogs, so the broker stays light."""
        asyncio.run(_delete_with_prefix(self.settings.kafka_bootstrap, topics.prefix))


async def _delete_with_prefix(bootstrap: str, prefix: str) -> None:
    async with admin_client(bootstrap) as admin:
        names = [t for t in await admin.list_topics() if t.startswith(prefix)]
        with contextlib.suppress(KafkaError):
            await admin.delete_topics(names)


async def _wait_visible(bootstrap: str, names: list[str], timeout_s: float = 60.0) -> None:
    """Until the broker's metadata lists every topic with its partitions."""
    deadline = time.monotonic() + timeout_s
    async with admin_client(bootstrap) as admin:
        while True:
            described = await admin.describe_topics(names)
            ready = {
                t["topic"] for t in described if t.get("error_code") == 0 and t.get("partitions")
            }
            if ready >= set(names) or time.monotonic() > deadline:
                return
            await asyncio.sleep(0.2)
