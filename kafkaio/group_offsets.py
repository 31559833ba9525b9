"""A consumer group's committed offsets and its partitions' end offsets, from Kafka.

Both lag readers need exactly this pair (the streams CLI's watchdog per partition, the
dashboard's panel per topic); how they summarize it is theirs.
"""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

Offsets = dict[tuple[str, int], int]


async def group_offsets(
    bootstrap: str, group: str, timeout_ms: int = 40_000
) -> tuple[Offsets, Offsets]:
    """(committed, end) offsets by (topic, partition) of every partition the group committed on.

    Both are empty when the group has committed nothing yet.
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=timeout_ms)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    committed = {(tp.topic, tp.partition): meta.offset for tp, meta in offsets.items()}
    if not committed:
        return {}, {}
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, request_timeout_ms=timeout_ms
    )
    await consumer.start()
    try:
        ends = await consumer.end_offsets([TopicPartition(t, p) for t, p in committed])
    finally:
        await consumer.stop()
    return committed, {(tp.topic, tp.partition): end for tp, end in ends.items()}
