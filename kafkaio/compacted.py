"""Reading partitions of a compacted topic to their end: the last value of every key.

A changelog or a small settings topic is a table in the log: the state is the last
value per key, and a record without a value (a tombstone) deletes its key. Readers
(a worker restoring its state, the rebuild horizon) need exactly that state as of the
moment they start, so this reads each partition from its first offset up to the end
offset seen at the start, without a consumer group and without committing anything.
"""

from __future__ import annotations

from collections.abc import Iterable

from aiokafka import AIOKafkaConsumer, TopicPartition

FETCH_TIMEOUT_MS = 1000


async def read_compacted(
    bootstrap: str, partitions: Iterable[TopicPartition]
) -> dict[TopicPartition, dict[bytes, bytes]]:
    """Each partition's last value per key (tombstoned keys left out), up to its end now."""
    wanted = sorted(set(partitions))
    tables: dict[TopicPartition, dict[bytes, bytes]] = {tp: {} for tp in wanted}
    if not wanted:
        return tables
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(wanted)
        await consumer.seek_to_beginning(*wanted)
        ends = await consumer.end_offsets(wanted)
        left = {tp for tp in wanted if ends[tp] > await consumer.position(tp)}
        while left:
            fetched = await consumer.getmany(*left, timeout_ms=FETCH_TIMEOUT_MS)
            for tp, records in fetched.items():
                table = tables[tp]
                for record in records:
                    if record.key is None or record.offset >= ends[tp]:
                        continue
                    if record.value is None:
                        table.pop(record.key, None)
                    else:
                        table[record.key] = record.value
            left = {tp for tp in left if await consumer.position(tp) < ends[tp]}
        return tables
    finally:
        await consumer.stop()
