"""Producing a tick's records fast: one batch per partition, not one `send` per record.

Why: with aiokafka, `producer.send` costs about 20 us per record (a murmur2 hash in pure
Python, metadata checks, one future per record), which held one simulator process near
30,000 telemetry events/s (BENCHMARKS.md, "Producing"). Here the partition of each key
is computed once with the same partitioner (`DefaultPartitioner`, Kafka's murmur2, so a
key lands exactly where `send` and the Java clients would put it: telemetry stays
co-partitioned by drone id) and cached; records are appended to one `BatchBuilder` per
partition, and each full batch is submitted with `send_batch`, one future per batch.
Order within a partition is the order of the input, as with `send`.

The sender owns its producer (made by the factory it is given, started in `start`) for
one reason: after a failed batch it must be replaced. An idempotent aiokafka producer
numbers each partition's batches when it drains them; a batch that then fails (expired
while the broker was away) leaves a gap in the numbers, and the broker refuses every
later batch of that partition with OutOfOrderSequenceNumber, for good: aiokafka does not
bump the producer's epoch as the Java client does. Found by `make chaos`: after a 30 s
broker outage the simulator's every send failed until the run ended. A new producer
has a new id and starts its numbers again.

The replacement is started in the background: the send that saw the failure returns
its counts at once (an API request answers 503 instead of hanging until the broker is
back), and the next send waits for the new producer rather than feeding the refused one.

`ack_timeout_s` bounds the wait for acknowledgements. aiokafka's own request timeout
does not: a batch for a partition whose leader is still in the producer's metadata
waits in its accumulator until the broker is back, however long that takes (its batches
expire only once the metadata shows no leader, which a stopped single broker may or
may not have published first). A batch unacknowledged past the bound counts as failed
and its producer is replaced, as after any failure; if the broker later takes it after
all, the record is there twice, which every consumer tolerates (at-least-once).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from aiokafka.partitioner import DefaultPartitioner

from kafkaio.records import WireRecord

log = logging.getLogger(__name__)

RETRY_S = 1.0
"""Between attempts to start a replacement producer while the broker is away."""

_MAX_CACHED_KEYS = 200_000
"""Drone ids repeat every tick; delivery ids do not. Bound the cache for long runs."""


@dataclass
class Acks:
    """Records acknowledged and records failed, by topic."""

    acked: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)


class BatchSender:
    """Sends lists of records through its producer, a batch per partition.

    `new_producer` makes an unstarted producer; the sender starts one in `start` (or
    `async with`), and another after any failed batch (see the module's docstring).
    """

    def __init__(
        self, new_producer: Callable[[], AIOKafkaProducer], ack_timeout_s: float | None = None
    ) -> None:
        self._new_producer = new_producer
        self._ack_timeout_s = ack_timeout_s
        """Longest wait for a send's acknowledgements; None: as long as the producer takes."""
        self._producer: AIOKafkaProducer | None = None
        self._renewal: asyncio.Task[None] | None = None
        self.renewals = 0
        """Producers replaced after a failed batch."""
        self._partitioner = DefaultPartitioner()
        self._partitions: dict[str, list[int]] = {}
        self._partition_of: dict[tuple[str, bytes], int] = {}

    async def start(self) -> None:
        """Start a producer (connects to the broker)."""
        producer = self._new_producer()
        await producer.start()
        self._producer = producer

    async def stop(self) -> None:
        """Give up a replacement still being started; flush and stop the producer."""
        renewal = self._renewal
        if renewal is not None:
            renewal.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewal
        producer, self._producer = self._producer, None
        if producer is not None:
            await producer.stop()

    async def __aenter__(self) -> BatchSender:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def send(self, records: Sequence[WireRecord]) -> Acks:
        """Send the records and wait until every batch is acknowledged or has failed.

        Failed records are counted, not retried: the caller knows whether to send them
        again (a stage replays its batch) or to let them go (a simulated radio fix).
        While a replacement producer is being started, waits for it first.
        """
        if self._renewal is not None:
            # Shielded: a caller that gives up waiting must not cancel the replacement.
            await asyncio.shield(self._renewal)
        producer = self._started()
        builders: dict[tuple[str, int], Any] = {}
        pending: list[tuple[str, int, asyncio.Future[Any]]] = []
        for record in records:
            partition = record.partition
            if partition is None:
                partition = await self._partition(producer, record.topic, record.key)
            where = (record.topic, partition)
            builder = builders.get(where)
            if builder is None:
                builder = builders[where] = producer.create_batch()
            if builder.append(key=record.key, value=record.value, timestamp=None) is None:
                pending.append(await _submit(producer, where, builder))
                builder = builders[where] = producer.create_batch()
                builder.append(key=record.key, value=record.value, timestamp=None)
        for where, builder in builders.items():
            pending.append(await _submit(producer, where, builder))
        acks = Acks()
        loop = asyncio.get_running_loop()
        deadline = None if self._ack_timeout_s is None else loop.time() + self._ack_timeout_s
        for topic, count, future in pending:
            try:
                if deadline is None:
                    await future
                else:
                    # Shielded: the batch stays the producer's; only this wait gives up.
                    await asyncio.wait_for(asyncio.shield(future), max(0.0, deadline - loop.time()))
            except TimeoutError:
                acks.failed[topic] += count
                log.warning(
                    "a batch of %d records to %s was not acknowledged within %.1f s",
                    count,
                    topic,
                    self._ack_timeout_s,
                )
            except Exception as error:
                acks.failed[topic] += count
                log.warning("a batch of %d records to %s failed: %s", count, topic, error)
            else:
                acks.acked[topic] += count
        if acks.failed:
            self._renew(producer)
        return acks

    def _started(self) -> AIOKafkaProducer:
        if self._producer is None:
            raise RuntimeError("BatchSender.send before start()")
        return self._producer

    def _renew(self, failed: AIOKafkaProducer) -> None:
        """Start replacing the producer whose batch failed, once even if several sends saw it."""
        if self._producer is not failed or self._renewal is not None:
            return  # already replaced, or being replaced, after another send saw it fail
        log.warning("a batch failed: replacing the producer (new id, sequences from 0)")
        self._renewal = asyncio.create_task(self._replace(failed))

    async def _replace(self, failed: AIOKafkaProducer) -> None:
        try:
            self._producer = await self._replacement()
            self.renewals += 1
        finally:
            self._renewal = None
            await failed.stop()

    async def _replacement(self) -> AIOKafkaProducer:
        """A started producer; while the broker is still away, try again every second."""
        while True:
            producer = self._new_producer()
            try:
                await producer.start()
            except KafkaError as error:
                log.warning("no new producer yet (%s); trying again in %.0f s", error, RETRY_S)
                await producer.stop()
                await asyncio.sleep(RETRY_S)
            else:
                return producer

    async def _partition(self, producer: AIOKafkaProducer, topic: str, key: bytes) -> int:
        cached = self._partition_of.get((topic, key))
        if cached is not None:
            return cached
        partitions = self._partitions.get(topic)
        if partitions is None:
            partitions = self._partitions[topic] = sorted(await producer.partitions_for(topic))
        if len(self._partition_of) >= _MAX_CACHED_KEYS:
            self._partition_of.clear()
        partition: int = self._partitioner(key, partitions, partitions)
        self._partition_of[(topic, key)] = partition
        return partition


async def _submit(
    producer: AIOKafkaProducer, where: tuple[str, int], builder: Any
) -> tuple[str, int, asyncio.Future[Any]]:
    topic, partition = where
    count = builder.record_count()
    future = await producer.send_batch(builder, topic, partition=partition)
    return topic, count, future
