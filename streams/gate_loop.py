"""The telemetry gate's consumer loop: plain aiokafka, in batches, outside Faust's agents.

Why not a Faust agent, like the rest: the gate sees every fix of the fleet (10,000 drones
at 1 Hz is 10,000 records/s) and keeps no table, so Faust's per-record machinery is all
cost and no use here. Measured as an agent (BENCHMARKS.md, "Stream throughput"), the
`telemetry` partitions also stalled: once faust paused them for a full queue they never
came back, and when they did flow their committed offsets froze at the first commit
while every fix had been routed. Here the loop is ours and short:

    getmany (up to `batch_size` records) -> TelemetryGate.process per record
    -> BatchSender (one batch per partition, acks=all, idempotent) -> wait for every ack
    -> commit the batch's offsets

At-least-once like the agents: offsets are committed only after every output of the
batch is acknowledged; a crash in between replays the batch and the deliveries fold
ignores fixes it has applied. The loop has its own consumer group (`{app id}-gate`), so
two workers split the telemetry partitions between their gates the way Kafka splits any
group, and `dronefleet-streams reset` leaves it alone: the gate keeps no state to rebuild
(its memory of each drone's last fix is per process by design, see `streams.gate`).
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError

from contracts import utc_now
from kafkaio import BatchSender, WireRecord
from streams.gate import TelemetryGate
from streams.records import OutTopic, SourceRecord, dead_letter

log = logging.getLogger(__name__)

PROCESSOR = "validate-telemetry"
RETRY_S = 1.0


@dataclass(frozen=True)
class GateConfig:
    """Where the gate reads, where it writes, and how it batches."""

    bootstrap: str
    group: str
    source_topic: str
    outputs: Mapping[OutTopic, str]
    batch_size: int = 5_000
    session_timeout_s: float = 10.0
    heartbeat_interval_s: float = 3.0


def gate_batch(
    gate: TelemetryGate,
    records: list[SourceRecord],
    outputs: Mapping[OutTopic, str],
    now: datetime,
) -> list[WireRecord]:
    """Every output of a batch of raw records, in input order; nothing escapes as an error.

    A processor bug on one record dead-letters that record with the traceback's summary
    instead of stopping the gate (the same rule the agents follow).
    """
    wire: list[WireRecord] = []
    for record in records:
        try:
            outgoing = gate.process(record, now)
        except Exception as error:
            log.error(
                "%s failed on %s[%d]@%d: %s",
                PROCESSOR,
                record.topic,
                record.partition,
                record.offset,
                traceback.format_exc(),
            )
            outgoing = [dead_letter(record, PROCESSOR, "processing_error", repr(error), now)]
        wire.extend(WireRecord(outputs[out.topic], out.key, out.value) for out in outgoing)
    return wire


class GateLoop:
    """Consumes `telemetry`, gates it, produces the outputs, commits; until stopped."""

    def __init__(
        self, config: GateConfig, gate: TelemetryGate, clock: Callable[[], datetime] = utc_now
    ) -> None:
        self.config = config
        self.gate = gate
        self.clock = clock
        self.processed = 0
        self.stopping = asyncio.Event()

    async def run(self) -> None:
        """Run until `stop()`; Kafka errors are logged and retried, never fatal."""
        config = self.config
        consumer = AIOKafkaConsumer(
            config.source_topic,
            bootstrap_servers=config.bootstrap,
            group_id=config.group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=int(config.session_timeout_s * 1000),
            heartbeat_interval_ms=int(config.heartbeat_interval_s * 1000),
        )
        producer = AIOKafkaProducer(
            bootstrap_servers=config.bootstrap, acks="all", enable_idempotence=True, linger_ms=5
        )
        await producer.start()
        await consumer.start()
        sender = BatchSender(producer)
        try:
            while not self.stopping.is_set():
                await self._step(consumer, sender)
        finally:
            await consumer.stop()
            await producer.stop()

    async def supervise(self) -> None:
        """Run, and start again after any failure (broker away at start, a lost group).

        The gate must never die silently: every failure is logged with its traceback
        and the loop resumes from the last committed offsets after `RETRY_S`.
        """
        while not self.stopping.is_set():
            try:
                await self.run()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("gate: the consumer loop failed; restarting in %.0f s", RETRY_S)
                await asyncio.sleep(RETRY_S)

    def stop(self) -> None:
        """Ask the loop to finish its batch and stop."""
        self.stopping.set()

    async def _step(self, consumer: AIOKafkaConsumer, sender: BatchSender) -> None:
        fetched = await consumer.getmany(timeout_ms=200, max_records=self.config.batch_size)
        if not fetched:
            return
        records = [
            SourceRecord(tp.topic, tp.partition, m.offset, m.key, m.value or b"")
            for tp, messages in fetched.items()
            for m in messages
        ]
        wire = gate_batch(self.gate, records, self.config.outputs, self.clock())
        acks = await sender.send(wire)
        if acks.failed:
            # Not committed: go back to the batch's first offsets and try again.
            log.warning("gate: %d outputs failed, replaying the batch", sum(acks.failed.values()))
            for tp, messages in fetched.items():
                consumer.seek(tp, messages[0].offset)
            await asyncio.sleep(RETRY_S)
            return
        offsets = {tp: messages[-1].offset + 1 for tp, messages in fetched.items()}
        await self._commit(consumer, offsets)
        self.processed += len(records)

    async def _commit(self, consumer: AIOKafkaConsumer, offsets: dict[TopicPartition, int]) -> None:
        try:
            await consumer.commit(offsets)
        except (CommitFailedError, KafkaError) as error:
            # A rebalance took the partitions: their new owner replays from the last
            # committed offsets, and the outputs already sent are applied at most once.
            log.warning("gate: commit of %s failed (%s); the next owner replays", offsets, error)
