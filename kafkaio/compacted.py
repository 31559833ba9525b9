"""Reading partitions of a compacted topic to their end: the last value of every key.

A changelog or a small settings topic is a table in the log: the state is the last
value per key, and a record without a value (a tombstone) deletes its key. Readers
(a worker restoring its state, the rebuild horizon) need exactly that state as of the
moment they start, so this reads each partition from its first offset up to the end
offset seen at the start (`kafkaio.log_range`), without a consumer group and without
committing anything.
"""

from __future__ import annotations

from collections.abc import Iterable

from aiokafka import TopicPartition

from kafkaio.connection import Broker
from kafkaio.log_range import read_to_end


async def read_compacted(
    bootstrap: Broker, partitions: Iterable[TopicPartition]
) -> dict[TopicPartition, dict[bytes, bytes]]:
    """Each partition's last value per key (tombstoned keys left out), up to its end now."""
    wanted = sorted(set(partitions))
    tables: dict[TopicPartition, dict[bytes, bytes]] = {tp: {} for tp in wanted}
    if not wanted:
        return tables
    async for batch in read_to_end(bootstrap, wanted):
        for tp, records in batch.fetched.items():
            table = tables[tp]
            for record in records:
                if record.key is None:
                    continue
                if record.value is None:
                    table.pop(record.key, None)
                else:
                    table[record.key] = record.value
    return tables
