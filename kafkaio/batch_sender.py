"""Producing a tick's records fast: one batch per partition, not one `send` per record.

Why: with aiokafka, `producer.send` costs about 20 us per record (a murmur2 hash in pure
Python, metadata checks, one future per record), which held one simulator process near
30,000 telemetry events/s (BENCHMARKS.md, "Producing"). Here the partition of each key
is computed once with the same partitioner (`DefaultPartitioner`, Kafka's murmur2, so a
key lands exactly where `send` and the Java clients would put it: telemetry stays
co-partitioned by drone id) and cached; records are appended to one `BatchBuilder` per
partition, and each full batch is submitted with `send_batch`, one future per batch.
Order within a partition is the order of the input, as with `send`.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner

from kafkaio.records import WireRecord

log = logging.getLogger(__name__)

_MAX_CACHED_KEYS = 200_000
"""Drone ids repeat every tick; delivery ids do not. Bound the cache for long runs."""


@dataclass
class Acks:
    """Records acknowledged and records failed, by topic."""

    acked: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)


class BatchSender:
    """Sends lists of records through one producer, a batch per partition."""

    def __init__(self, producer: AIOKafkaProducer) -> None:
        self._producer = producer
        self._partitioner = DefaultPartitioner()
        self._partitions: dict[str, list[int]] = {}
        self._partition_of: dict[tuple[str, bytes], int] = {}

    async def send(self, records: Sequence[WireRecord]) -> Acks:
        """Send the records and wait until every batch is acknowledged or has failed."""
        builders: dict[tuple[str, int], Any] = {}
        pending: list[tuple[str, int, asyncio.Future[Any]]] = []
        for record in records:
            partition = record.partition
            if partition is None:
                partition = await self._partition(record.topic, record.key)
            where = (record.topic, partition)
            builder = builders.get(where)
            if builder is None:
                builder = builders[where] = self._producer.create_batch()
            if builder.append(key=record.key, value=record.value, timestamp=None) is None:
                pending.append(await self._submit(where, builder))
                builder = builders[where] = self._producer.create_batch()
                builder.append(key=record.key, value=record.value, timestamp=None)
        for where, builder in builders.items():
            pending.append(await self._submit(where, builder))
        acks = Acks()
        for topic, count, future in pending:
            try:
                await future
            except Exception as error:
                acks.failed[topic] += count
                log.warning("a batch of %d records to %s failed: %s", count, topic, error)
            else:
                acks.acked[topic] += count
        return acks

    async def _submit(
        self, where: tuple[str, int], builder: Any
    ) -> tuple[str, int, asyncio.Future[Any]]:
        topic, partition = where
        count = builder.record_count()
        future = await self._producer.send_batch(builder, topic, partition=partition)
        return topic, count, future

    async def _partition(self, topic: str, key: bytes) -> int:
        cached = self._partition_of.get((topic, key))
        if cached is not None:
            return cached
        partitions = self._partitions.get(topic)
        if partitions is None:
            partitions = self._partitions[topic] = sorted(
                await self._producer.partitions_for(topic)
            )
        if len(self._partition_of) >= _MAX_CACHED_KEYS:
            self._partition_of.clear()
        partition: int = self._partitioner(key, partitions, partitions)
        self._partition_of[(topic, key)] = partition
        return partition
