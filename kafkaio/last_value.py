"""Following the last record of a one-partition topic: a small setting kept in the log.

The airspace (`contracts.AirspacePublished` on the compacted `airspace` topic) is one
record that every service needs at start and whose later versions it must follow. Each
reader reads the partition from its first kept offset (compaction keeps it small) and
then keeps reading: every value is handed over in order, so the last one handed over is
the one in force. `caught_up` is set once the reader has reached the end offset seen at
its start, so a service can wait for what is already published before it answers.
No consumer group: nothing is committed and every replica reads the whole topic.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, TopicPartition

from kafkaio.log_range import read_to_end


async def last_value(bootstrap: str, topic: str) -> bytes | None:
    """The value of the partition's last record up to its end now (None: empty topic)."""
    last: bytes | None = None
    async for batch in read_to_end(bootstrap, [TopicPartition(topic, 0)]):
        for record in batch.records:
            if record.value is not None:
                last = record.value
    return last


async def follow_values(
    bootstrap: str,
    topic: str,
    on_value: Callable[[bytes], None],
    caught_up: asyncio.Event,
    *,
    poll_timeout_ms: int = 1000,
) -> None:
    """Hand every value of partition 0 to `on_value`, in order, until cancelled.

    `caught_up` is set once the values up to the end offset seen at the start were
    handed over (at once for an empty topic). Tombstones (no value) are skipped.
    """
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partition = TopicPartition(topic, 0)
        consumer.assign([partition])
        await consumer.seek_to_beginning(partition)
        end = (await consumer.end_offsets([partition]))[partition]
        while True:
            if not caught_up.is_set() and await consumer.position(partition) >= end:
                caught_up.set()
            fetched = await consumer.getmany(partition, timeout_ms=poll_timeout_ms)
            for record in fetched.get(partition, []):
                if record.value is not None:
                    on_value(record.value)
    finally:
        await consumer.stop()
