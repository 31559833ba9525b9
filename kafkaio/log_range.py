"""Reading partitions from a start up to the end offsets seen when the reading began.

A table restored from its changelog, a projection rebuilt from offset 0, the ETA
report and the load harness's ledger all want a snapshot of the log: every record up
to where each partition ended when they started, and then stop, while producers may
go on appending. They read without a consumer group (manual assignment: nothing
committed, no rebalance), so they can run beside the live consumers at any time.

Why the end is checked by position, not by the last record's offset: a partition's
last offsets need not hold a record a consumer is given (a transaction's commit
marker, records removed by compaction or retention), so waiting to *see* offset
end - 1 can wait forever. The consumer's position moves past those, so a partition is
done when its position reaches its end.

One flavour, aiokafka: every one of these readers is an asyncio program that reads a
snapshot once, none is on a hot path. The live projection sink reads with
confluent-kafka (`projections.source`) for throughput; it is a tailing consumer with a
group, not a range reader.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import ConsumerRecord

from kafkaio.connection import Broker, aiokafka_options

FETCH_TIMEOUT_MS = 1000
"""The longest one fetch waits for records; the reading stops by offsets, not by this."""


@dataclass(frozen=True, slots=True)
class RangeBatch:
    """One fetch: its records inside the range, and how far each partition got."""

    fetched: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]
    """Records below their partition's end, in offset order, by partition (a reader that
    keeps state per partition, like a changelog's restore, looks its table up once)."""
    reached: dict[TopicPartition, int]
    """The next offset to read of every partition that moved in this fetch (capped at
    its end): what a reader storing its progress with the records should store."""

    @property
    def records(self) -> list[ConsumerRecord[bytes, bytes]]:
        """Every record of the fetch, partition after partition."""
        return [record for records in self.fetched.values() for record in records]


async def read_range(
    consumer: AIOKafkaConsumer,
    partitions: Iterable[TopicPartition],
    ends: Mapping[TopicPartition, int] | None = None,
    starts: Mapping[TopicPartition, int] | None = None,
    *,
    max_records: int | None = None,
    timeout_ms: int = FETCH_TIMEOUT_MS,
) -> AsyncIterator[RangeBatch]:
    """Yield the records of each partition in [start, end), a fetch at a time.

    `consumer`: started, without a group; this assigns it `partitions`. `ends`: where
    each partition's range ends; None: its end offset now, asked once the consumer is
    assigned so that its first fetch overlaps that request (a quarter faster for a
    200,000-key changelog). `starts`: the first offset of each partition (absent: 0);
    None: each partition's first kept offset. An offset that retention dropped starts
    at the first one kept when the consumer resets to "earliest" (the projections'
    rebuild asks for that). A partition already at its end yields nothing; finished
    partitions are paused.
    """
    partitions = sorted(set(partitions))
    if not partitions:
        return
    consumer.assign(partitions)
    if starts is None:
        await consumer.seek_to_beginning(*partitions)
    else:
        for tp in partitions:
            consumer.seek(tp, starts.get(tp, 0))
    if ends is None:
        ends = dict(await consumer.end_offsets(partitions))
    at = {tp: await consumer.position(tp) for tp in partitions}
    pending = {tp for tp in partitions if at[tp] < ends[tp]}
    consumer.pause(*(tp for tp in partitions if tp not in pending))
    while pending:
        fetched = await consumer.getmany(*pending, timeout_ms=timeout_ms, max_records=max_records)
        inside = {tp: _below(records, ends[tp]) for tp, records in fetched.items()}
        reached: dict[TopicPartition, int] = {}
        for tp in sorted(pending):
            position = min(await consumer.position(tp), ends[tp])
            if position != at[tp]:
                reached[tp] = at[tp] = position
            if position >= ends[tp]:
                pending.discard(tp)
                consumer.pause(tp)
        if reached:  # records move their partition's position: no records without it
            yield RangeBatch({tp: records for tp, records in inside.items() if records}, reached)


def _below(
    records: list[ConsumerRecord[bytes, bytes]], end: int
) -> list[ConsumerRecord[bytes, bytes]]:
    """The records before `end`; the list itself when all are (the usual case: no copy)."""
    if not records or records[-1].offset < end:
        return records
    return [record for record in records if record.offset < end]


async def read_to_end(
    bootstrap: Broker,
    partitions: Iterable[TopicPartition],
    *,
    max_records: int | None = None,
    max_partition_fetch_bytes: int = 1 << 20,
) -> AsyncIterator[RangeBatch]:
    """Every record of `partitions` from the first kept to the end offsets as of now.

    Its own consumer, started and stopped here. Read the generator to its end (or close
    it) so that the consumer stops. `max_partition_fetch_bytes`: larger fetches for
    readers of whole busy topics (the ledger reads millions of fixes).
    """
    consumer = AIOKafkaConsumer(
        **aiokafka_options(bootstrap),
        enable_auto_commit=False,
        max_partition_fetch_bytes=max_partition_fetch_bytes,
    )
    await consumer.start()
    try:
        async for batch in read_range(consumer, partitions, max_records=max_records):
            yield batch
    finally:
        await consumer.stop()
