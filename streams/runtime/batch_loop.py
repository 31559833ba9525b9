"""The batched consumer loop of the hot stages: plain aiokafka, beside the Faust app.

Why not Faust agents, like the dispatcher: the gate sees every fix of the fleet and the
deliveries stage every fix on a mission (10,000 drones at 1 Hz is 10,000 records/s).
Measured (BENCHMARKS.md, "Stream throughput"), a Faust agent cost about 500 us per record
(its per-event bookkeeping, one future per send, one changelog send per table write)
where the processors themselves need 5 us (gate) and 12 us (deliveries); when the gate
was an agent, its `telemetry` partitions also stalled for good once Faust paused them.
The decision and its measurement: docs/decisions/0001-faust-and-batched-stages.md.
Here the loop is ours and short:

    getmany (up to `batch_size` records) -> the stage turns them into records to produce
    (outputs and changelog records) -> BatchSender (a batch per partition, acks=all,
    idempotent) -> wait for every ack -> commit the batch's offsets

At-least-once, like the dispatcher's agent: offsets are committed only after every output and
changelog record of the batch is acknowledged; a crash in between replays the batch, and
the processors ignore what they have applied. When a send fails, the loop seeks back to
the batch's first offsets and the stage reloads its state from the changelog (what was
acknowledged of the failed batch is in it: a replay of at-least-once, not a loss).

Each stage has its own consumer group (`{app id}-gate`, `{app id}-deliveries`), so two
workers split the partitions the way Kafka splits any group; a stage with tables asks
for the range assignor, which gives a member the same partition numbers of every input
topic (they are co-partitioned by delivery id). A rebalance waits for the batch in
progress (one lock), then the stage forgets what it lost and loads what it got.
"""

from __future__ import annotations

import asyncio
import logging
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

import msgspec
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from aiokafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor
from aiokafka.errors import CommitFailedError, KafkaError

from contracts import decode_dead_letter, utc_now
from kafkaio import BatchSender, WireRecord
from kafkaio.connection import Broker, aiokafka_options
from streams.processors.records import Outgoing, OutTopic, SourceRecord, dead_letter
from streams.runtime.horizon import Horizon, already_processed

log = logging.getLogger(__name__)

RETRY_S = 1.0

Process = Callable[[SourceRecord, datetime], list[Outgoing]]
"""A processor's step: one input record and the time now -> the records it emits."""


@dataclass(frozen=True)
class LoopConfig:
    """Where a stage reads, with which group, and how it batches."""

    bootstrap: Broker
    group: str
    source_topics: tuple[str, ...]
    batch_size: int = 5_000
    co_partitioned: bool = False
    """Assign the same partition numbers of every source topic to a member (range)."""
    session_timeout_s: float = 10.0
    heartbeat_interval_s: float = 3.0
    instance_id: str | None = None
    """Static group membership under this name (see `StreamsSettings.instance_id`)."""


class Stage(Protocol):
    """What a loop runs: records in, records to produce out; state per partition."""

    name: str

    def handle(self, records: list[SourceRecord], now: datetime) -> list[WireRecord]:
        """Every record to produce for the batch, changelog records included."""

    async def assigned(self, partitions: set[TopicPartition]) -> None:
        """Load the state of partitions this member now owns (or reload after a failure)."""

    def revoked(self, partitions: set[TopicPartition]) -> None:
        """Forget the state of partitions another member owns from now on."""


def process_records(
    process: Process,
    processor_name: str,
    records: Sequence[SourceRecord],
    outputs: Mapping[OutTopic, str],
    now: datetime,
    replayed: Horizon | None = None,
) -> list[WireRecord]:
    """Every output of a batch of raw records, in input order; nothing escapes as an error.

    A processor bug on one record dead-letters that record with the traceback's summary
    instead of stopping the stage (the rule every processor follows). A record below the
    rebuild horizon (`replayed`, see `streams.runtime.horizon`) updates the state but sends
    nothing: its outputs are in the log already.
    """
    wire: list[WireRecord] = []
    for record in records:
        try:
            outgoing = process(record, now)
        except Exception as error:
            log.error(
                "%s failed on %s[%d]@%d: %s",
                processor_name,
                record.topic,
                record.partition,
                record.offset,
                traceback.format_exc(),
                extra=log_fields(record),  # JSON logs' fields
            )
            outgoing = [dead_letter(record, processor_name, "processing_error", repr(error), now)]
        if replayed and already_processed(replayed, record.topic, record.partition, record.offset):
            continue
        for out in outgoing:
            if out.topic == "deadletter":
                log.warning(
                    "%s dead-lettered %s[%d]@%d: %s",
                    processor_name,
                    record.topic,
                    record.partition,
                    record.offset,
                    decode_dead_letter(out.value).reason,
                    extra=log_fields(record),
                )
        wire.extend(WireRecord(outputs[out.topic], out.key, out.value) for out in outgoing)
    return wire


def log_fields(record: SourceRecord) -> dict[str, object]:
    """Where a record came from, and the delivery's and drone's ids it names, for a log line.

    Only on the failure path (a dead letter, a processing error), so the record is decoded
    once more, as plain JSON: a refused record may be no event at all, and then only its
    place is known.
    """
    fields: dict[str, object] = {"topic": record.topic, "partition": record.partition}
    try:
        body = msgspec.json.decode(record.value)
    except msgspec.DecodeError:
        return fields
    if isinstance(body, dict):
        for name in ("delivery_id", "drone_id"):
            if isinstance(body.get(name), str):
                fields[name] = body[name]
    return fields


@dataclass
class LoopStats:
    """What a loop did, for its metrics (`streams.runtime.metrics` reads it at scrape time)."""

    joined: bool = False
    """The consumer has had partitions assigned at least once (the worker's readiness)."""
    batches: int = 0
    batch_seconds: float = 0.0
    """Time from a batch's fetch to its commit, summed (handle, produce, acks, commit)."""
    replays: int = 0
    records_in: dict[str, int] = field(default_factory=dict)
    """Records consumed, by source topic."""
    records_out: dict[str, int] = field(default_factory=dict)
    """Records produced, by destination topic (outputs, dead letters, changelogs)."""
    lag: dict[tuple[str, int], int] = field(default_factory=dict)
    """Records behind the partition's end after the last batch that read it."""

    def batch_done(
        self,
        seconds: float,
        fetched: Mapping[TopicPartition, Sequence[object]],
        outputs: Sequence[WireRecord],
        consumer: AIOKafkaConsumer,
    ) -> None:
        """Count a committed batch, and each read partition's lag behind its high watermark."""
        self.batches += 1
        self.batch_seconds += seconds
        for tp, messages in fetched.items():
            self.records_in[tp.topic] = self.records_in.get(tp.topic, 0) + len(messages)
            end = consumer.highwater(tp)
            if end is not None:
                self.lag[(tp.topic, tp.partition)] = max(end - consumer_offset(messages), 0)
        for record in outputs:
            self.records_out[record.topic] = self.records_out.get(record.topic, 0) + 1


def consumer_offset(messages: Sequence[object]) -> int:
    """The next offset after a partition's fetched messages."""
    return int(getattr(messages[-1], "offset", -1)) + 1


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    """Hands partition changes to the stage, between batches (never during one)."""

    def __init__(self, loop: BatchLoop) -> None:
        self._loop = loop

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        async with self._loop.batch_lock:
            self._loop.stage.revoked(set(revoked))

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        async with self._loop.batch_lock:
            await self._loop.stage.assigned(set(assigned))
            self._loop.stats.joined = True


class BatchLoop:
    """Consumes the stage's topics, runs the stage, produces, commits; until stopped."""

    def __init__(
        self, config: LoopConfig, stage: Stage, clock: Callable[[], datetime] = utc_now
    ) -> None:
        self.config = config
        self.stage = stage
        self.clock = clock
        self.processed = 0
        self.stats = LoopStats()
        self.stopping = asyncio.Event()
        self.batch_lock = asyncio.Lock()

    async def run(self) -> None:
        """Run until `stop()`; Kafka errors are logged and retried, never fatal."""
        config = self.config
        assignor = RangePartitionAssignor if config.co_partitioned else RoundRobinPartitionAssignor
        consumer = AIOKafkaConsumer(
            **aiokafka_options(config.bootstrap),
            group_id=config.group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            partition_assignment_strategy=(assignor,),
            group_instance_id=config.instance_id,
            session_timeout_ms=int(config.session_timeout_s * 1000),
            heartbeat_interval_ms=int(config.heartbeat_interval_s * 1000),
        )
        consumer.subscribe(list(config.source_topics), listener=_Rebalance(self))
        sender = BatchSender(
            lambda: AIOKafkaProducer(
                **aiokafka_options(config.bootstrap),
                acks="all",
                enable_idempotence=True,
                linger_ms=5,
            )
        )
        await sender.start()
        try:
            await consumer.start()
            try:
                while not self.stopping.is_set():
                    await self._step(consumer, sender)
            finally:
                await consumer.stop()
        finally:
            await sender.stop()

    async def supervise(self) -> None:
        """Run, and start again after any failure (broker away at start, a lost group).

        A stage must never die silently: every failure is logged with its traceback
        and the loop resumes from the last committed offsets after `RETRY_S`.
        """
        while not self.stopping.is_set():
            try:
                await self.run()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s: the consumer loop failed; restarting", self.stage.name)
                await asyncio.sleep(RETRY_S)

    def stop(self) -> None:
        """Ask the loop to finish its batch and stop."""
        self.stopping.set()

    async def _step(self, consumer: AIOKafkaConsumer, sender: BatchSender) -> None:
        fetched = await consumer.getmany(timeout_ms=200, max_records=self.config.batch_size)
        if not fetched:
            return
        async with self.batch_lock:
            # A rebalance between the fetch and the lock may have taken partitions away.
            owned = consumer.assignment()
            fetched = {tp: messages for tp, messages in fetched.items() if tp in owned}
            records = [
                SourceRecord(tp.topic, tp.partition, m.offset, m.key, m.value or b"")
                for tp, messages in fetched.items()
                for m in messages
            ]
            started = time.monotonic()
            outputs = self.stage.handle(records, self.clock())
            acks = await sender.send(outputs)
            if acks.failed:
                first = {tp: messages[0].offset for tp, messages in fetched.items()}
                self.stats.replays += 1
                await self._replay(consumer, first, sum(acks.failed.values()))
                return
            offsets = {tp: messages[-1].offset + 1 for tp, messages in fetched.items()}
            await self._commit(consumer, offsets)
            self.processed += len(records)
            self.stats.batch_done(time.monotonic() - started, fetched, outputs, consumer)

    async def _replay(
        self, consumer: AIOKafkaConsumer, first: Mapping[TopicPartition, int], n: int
    ) -> None:
        """Not committed: reload the state, go back to the batch's first offsets, retry."""
        log.warning("%s: %d records failed to send, replaying the batch", self.stage.name, n)
        await asyncio.sleep(RETRY_S)
        for tp, offset in first.items():
            consumer.seek(tp, offset)
        await self.stage.assigned(set(consumer.assignment()))

    async def _commit(self, consumer: AIOKafkaConsumer, offsets: dict[TopicPartition, int]) -> None:
        try:
            await consumer.commit(offsets)
        except (CommitFailedError, KafkaError) as error:
            # A rebalance took the partitions: their new owner replays from the last
            # committed offsets, and the outputs already sent are applied at most once.
            log.warning(
                "%s: commit of %s failed (%s); the next owner replays",
                self.stage.name,
                offsets,
                error,
            )
