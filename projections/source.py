"""The sink's Kafka side: batches of the projected topics, resumed at the database's checkpoints.

librdkafka (confluent-kafka) rather than aiokafka, because of how each one fetches. With
one broker, aiokafka sends the next fetch only once every partition's buffered records
are drained, so the sink stalled 100-200 ms every 16 MB of log (`benchmarks/sink_bench.py`)
and then built a Python object per record on its event loop. librdkafka fetches on its own
threads, keeps up to `queued.min.messages` records queued ahead of the consumer while the
previous batch is written, and parses records in C.

The consumer is driven from one dedicated thread: `consume` blocks (without the GIL)
until a batch is full or the flush interval is over, and the rebalance callback, which
librdkafka runs inside `consume`, may block on the database for the checkpoints.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from aiokafka.structs import TopicPartition
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException
from confluent_kafka import TopicPartition as KafkaPartition

from kafkaio.connection import confluent_options
from projections.settings import ProjectionsSettings

log = logging.getLogger(__name__)

T = TypeVar("T")

Record = tuple[str, bytes | None]
"""A record as the sink needs it: its topic and its value (None for a tombstone)."""

Checkpoints = Callable[[list[TopicPartition]], dict[TopicPartition, int]]
"""Blocking read of the stored next offsets of some partitions (those that have one)."""


@dataclass(frozen=True, slots=True)
class Batch:
    """Records in log order per partition, and the next offset of each partition they cover."""

    records: list[Record]
    offsets: dict[TopicPartition, int]


class CheckpointedSource:
    """A consumer-group member that starts every assigned partition at its checkpoint.

    The database, not Kafka, holds the sink's position: on assignment each partition is
    positioned at the checkpoint written with the rows (or at the beginning when there is
    none), so a batch written but not committed to Kafka is never written twice and a
    batch committed to Kafka but not written is never skipped.
    """

    def __init__(
        self, settings: ProjectionsSettings, topics: list[str], checkpoints: Checkpoints
    ) -> None:
        self._topics = topics
        self._checkpoints = checkpoints
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sink-consumer")
        config: dict[str, Any] = {
            **confluent_options(settings.kafka),
            "group.id": f"{settings.topic_prefix}projections-{settings.projection}",
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest",
            "max.partition.fetch.bytes": 4 * 1024 * 1024,
            "fetch.max.bytes": 64 * 1024 * 1024,
            "logger": log,
        }
        self._consumer = Consumer(config)

    async def start(self) -> None:
        """Join the group; partitions arrive with the first batches."""
        await self._run(self._subscribe)

    async def next_batch(self, max_records: int, timeout_s: float) -> Batch:
        """Up to `max_records` records, or what arrived within `timeout_s` (maybe none)."""
        return await self._run(self._consume, max_records, timeout_s)

    def commit(self, offsets: dict[TopicPartition, int]) -> None:
        """Commit to Kafka too, without waiting: for lag tools only, the database is the truth.

        Queued on the consumer's thread rather than called here: librdkafka serializes
        the call with a `consume` in progress, and the event loop would stand still until
        that returned (py-spy put half of the sink's samples there).
        """
        self._thread.submit(self._commit_now, offsets)

    def _commit_now(self, offsets: dict[TopicPartition, int]) -> None:
        try:
            self._consumer.commit(
                offsets=[KafkaPartition(tp.topic, tp.partition, o) for tp, o in offsets.items()],
                asynchronous=True,
            )
        except KafkaException as error:  # a rebalance under way: the checkpoints hold it
            log.info("offset commit skipped (%s); the database checkpoint is authoritative", error)

    async def close(self) -> None:
        """Leave the group and stop the consumer's thread."""
        await self._run(self._consumer.close)
        self._thread.shutdown(wait=True)

    async def _run(self, call: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._thread, call, *args)

    def _subscribe(self) -> None:
        self._consumer.subscribe(self._topics, on_assign=self._on_assign)

    def _on_assign(self, consumer: Consumer, partitions: list[KafkaPartition]) -> None:
        """Position every assigned partition at its checkpoint (runs inside `consume`)."""
        stored = self._checkpoints([TopicPartition(p.topic, p.partition) for p in partitions])
        for p in partitions:
            p.offset = stored.get(TopicPartition(p.topic, p.partition), OFFSET_BEGINNING)
        consumer.assign(partitions)
        log.info("assigned %d partitions, %d with a checkpoint", len(partitions), len(stored))

    def _consume(self, max_records: int, timeout_s: float) -> Batch:
        records: list[Record] = []
        offsets: dict[TopicPartition, int] = {}
        for message in self._consumer.consume(max_records, timeout_s):
            error = message.error()
            if error is not None:
                if error.code() != KafkaError._PARTITION_EOF:
                    log.warning("consumer error: %s", error)
                continue
            topic, partition, offset = message.topic(), message.partition(), message.offset()
            if topic is None or partition is None or offset is None:
                continue
            records.append((topic, message.value()))
            offsets[TopicPartition(topic, partition)] = offset + 1
        return Batch(records, offsets)
