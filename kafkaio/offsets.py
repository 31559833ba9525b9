"""Offsets from Kafka: what a consumer group committed, where partitions end, and both.

The one reader of a group's committed offsets: the streams reset (what to keep as the
rebuild horizon), the lag readers (the streams CLI's watchdog per partition, the
dashboard's panel per topic, the load harness's drain) all ask the same question; how
they summarize the answer is theirs.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from aiokafka import AIOKafkaConsumer, TopicPartition

from kafkaio.admin import DEFAULT_REQUEST_TIMEOUT_MS, admin_client
from kafkaio.connection import Broker, aiokafka_options

Offsets = dict[tuple[str, int], int]
"""(topic, partition) -> offset."""


async def committed_offsets(
    bootstrap: Broker,
    group: str,
    topics: Collection[str] | None = None,
    timeout_ms: int = DEFAULT_REQUEST_TIMEOUT_MS,
) -> Offsets:
    """The group's committed offsets, on the partitions of `topics` (None: every topic).

    Empty when the group has committed nothing (or does not exist). A partition the
    group never committed on is absent, never -1: Kafka answers -1 only for partitions
    asked for by name, and this asks for all of them.
    """
    async with admin_client(bootstrap, timeout_ms) as admin:
        offsets = await admin.list_consumer_group_offsets(group)
    return {
        (tp.topic, tp.partition): meta.offset
        for tp, meta in offsets.items()
        if (topics is None or tp.topic in topics) and meta.offset >= 0
    }


async def end_offsets(
    bootstrap: Broker,
    partitions: Iterable[tuple[str, int]],
    timeout_ms: int = DEFAULT_REQUEST_TIMEOUT_MS,
) -> Offsets:
    """The offset the next record of each partition will get (its end, "high watermark")."""
    wanted = [TopicPartition(topic, partition) for topic, partition in partitions]
    if not wanted:
        return {}
    consumer = AIOKafkaConsumer(
        **aiokafka_options(bootstrap), enable_auto_commit=False, request_timeout_ms=timeout_ms
    )
    await consumer.start()
    try:
        ends = await consumer.end_offsets(wanted)
    finally:
        await consumer.stop()
    return {(tp.topic, tp.partition): end for tp, end in ends.items()}


async def group_offsets(
    bootstrap: Broker, group: str, timeout_ms: int = DEFAULT_REQUEST_TIMEOUT_MS
) -> tuple[Offsets, Offsets]:
    """(committed, end) offsets by (topic, partition) of every partition the group committed on.

    Both are empty when the group has committed nothing yet.
    """
    committed = await committed_offsets(bootstrap, group, timeout_ms=timeout_ms)
    return committed, await end_offsets(bootstrap, committed, timeout_ms)
