"""The rebuild horizon: up to which offset a record's outputs are already in the log.

A rebuild (`dronefleet-streams reset`, then a worker start) folds the input topics again
from offset 0. Every record below the offset the workers had committed before the reset
was processed once already, and what that produced (events decided from commands,
requests forwarded to dispatch, `TrackingUpdated`, proposals, dead letters) is in the
log. Sending it again would append a second copy of each: dispatch would queue every
replayed request again (it forgets a request once assigned) and reserve drones for
finished deliveries, customers would get old updates again, and the dead-letter topic
would double. So the reset records those offsets in a small compacted topic, and the
worker, for a record below them, updates its tables but sends nothing.

The horizon stays valid after the rebuild (those records stay processed), so a worker
restarted in the middle of a rebuild resumes it the same way; a later reset raises it.
"""

from __future__ import annotations

from collections.abc import Mapping

from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import NewTopic

from kafkaio.admin import admin_client, create_missing_topics
from kafkaio.compacted import read_compacted
from kafkaio.connection import Broker, aiokafka_options

Horizon = Mapping[tuple[str, int], int]
"""(topic, partition) -> the first offset whose outputs are not in the log yet."""


def horizon_topic(group: str) -> str:
    """The compacted topic holding the group's horizon."""
    return f"{group}-rebuild-horizon"


def already_processed(horizon: Horizon, topic: str, partition: int, offset: int) -> bool:
    """True when the record's outputs were sent before the last reset."""
    return offset < horizon.get((topic, partition), 0)


def raised(old: Horizon, committed: Horizon) -> dict[tuple[str, int], int]:
    """The new horizon: the committed offsets, never below an earlier horizon."""
    keys = set(old) | set(committed)
    return {key: max(old.get(key, 0), committed.get(key, 0)) for key in sorted(keys)}


def _key(topic: str, partition: int) -> bytes:
    return f"{topic}:{partition}".encode()


def _parse(key: bytes) -> tuple[str, int]:
    topic, _, partition = key.decode().rpartition(":")
    return topic, int(partition)


async def read_horizon(bootstrap: Broker, group: str) -> dict[tuple[str, int], int]:
    """The group's horizon; empty when no reset ever happened."""
    topic = horizon_topic(group)
    async with admin_client(bootstrap) as admin:
        if topic not in await admin.list_topics():
            return {}
    partition = TopicPartition(topic, 0)
    stored = (await read_compacted(bootstrap, [partition]))[partition]
    return {_parse(key): int(value) for key, value in stored.items()}


async def write_horizon(bootstrap: Broker, group: str, horizon: Horizon) -> None:
    """Store the horizon (creating its compacted, one-partition topic if needed)."""
    topic = horizon_topic(group)
    async with admin_client(bootstrap) as admin:
        await create_missing_topics(
            admin, [NewTopic(topic, 1, 1, topic_configs={"cleanup.policy": "compact"})]
        )
    producer = AIOKafkaProducer(**aiokafka_options(bootstrap), acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for (name, partition), offset in horizon.items():
            await producer.send(topic, str(offset).encode(), key=_key(name, partition), partition=0)
        await producer.flush()
    finally:
        await producer.stop()
