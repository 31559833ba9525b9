"""The two batched stages: the telemetry gate, and the deliveries fold with its tables.

Each wraps a pure processor (`streams.processors.telemetry_gate.TelemetryGate`,
`streams.processors.delivery_processor.DeliveryProcessor`) for
`streams.runtime.batch_loop.BatchLoop`: the loop fetches, produces and commits; a stage
only turns a batch of records into the records to produce and keeps its per-partition
state.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from datetime import datetime

from aiokafka import TopicPartition

from kafkaio import WireRecord
from kafkaio.compacted import read_compacted
from kafkaio.connection import Broker
from streams.domain.validation import LastFix
from streams.processors.delivery_processor import DeliveryProcessor
from streams.processors.records import Outgoing, OutTopic, SourceRecord
from streams.processors.telemetry_gate import TelemetryGate
from streams.runtime.batch_loop import process_records
from streams.runtime.changelogged_table import ChangeloggedTable
from streams.runtime.horizon import Horizon

log = logging.getLogger(__name__)


class GateStage:
    """Validates telemetry and routes it; keeps no table (its memory is per process).

    The gate remembers each drone's last accepted fix. When a batch's sends fail, the
    loop replays the batch (`BatchLoop._replay` calls `assigned` first): the stage then
    puts back the memory from before that batch, so its fixes are checked as the first
    time instead of being refused as duplicates of themselves, which would leave a fix
    whose accepted copy never reached `accepted-telemetry` out of the history. The
    snapshot is a shallow copy of a dict of one entry per drone, per batch (a few
    microseconds per thousand drones; the benchmark in BENCHMARKS.md includes it).
    """

    name = "validate-telemetry"

    def __init__(self, gate: TelemetryGate, outputs: Mapping[OutTopic, str]) -> None:
        self.gate = gate
        self.outputs = outputs
        self._before_batch: dict[str, LastFix] = {}

    def handle(self, records: list[SourceRecord], now: datetime) -> list[WireRecord]:
        """The gate's outputs for the batch, then its word to dispatch on the drones seen."""
        self._before_batch = dict(self.gate.last_fixes)
        self.gate.heard.clear()  # a batch that failed before its end is replayed whole
        wire = process_records(self.gate.process, self.name, records, self.outputs, now)
        wire.extend(
            WireRecord(self.outputs[out.topic], out.key, out.value)
            for out in self.gate.fleet_heard(now)
        )
        return wire

    async def assigned(self, partitions: set[TopicPartition]) -> None:
        """Back to the memory from before the last batch, which may be replayed.

        Nothing to load otherwise: `streams.processors.telemetry_gate` says why its
        memory is no table. After a rebalance that follows a committed batch the memory
        is one batch older than it could be: a repeat of that batch's fixes may then
        pass the gate again, and the projections' unique keys absorb it.
        """
        self.gate.last_fixes = dict(self._before_batch)

    def revoked(self, partitions: set[TopicPartition]) -> None:
        """Nothing to forget."""


class DeliveriesStage:
    """Folds deliveries, decides commands and computes ETAs, with changelogged tables.

    The processor's tables are `ChangeloggedTable`s: before each record the stage points
    them at the record's partition, and after the batch it appends their changes to the
    batch's outputs, so a delivery's state and the updates it caused are acknowledged
    before the offsets that produced them are committed.
    """

    name = "deliveries"

    def __init__(
        self,
        processor: DeliveryProcessor,
        tables: Sequence[ChangeloggedTable],
        outputs: Mapping[OutTopic, str],
        bootstrap: Broker,
        replayed: Horizon | None = None,
    ) -> None:
        self.processor = processor
        self.tables = tables
        self.outputs = outputs
        self.bootstrap = bootstrap
        self.replayed = replayed

    def handle(self, records: list[SourceRecord], now: datetime) -> list[WireRecord]:
        """The batch's outputs, then the changelog records of what it changed."""
        wire = process_records(self._process, self.name, records, self.outputs, now, self.replayed)
        for table in self.tables:
            wire.extend(table.drain_changes())
        return wire

    def _process(self, record: SourceRecord, now: datetime) -> list[Outgoing]:
        for table in self.tables:
            table.partition = record.partition
        return self.processor.process(record, now)

    async def assigned(self, partitions: set[TopicPartition]) -> None:
        """Load each newly owned partition of every table from its changelog."""
        numbers = {tp.partition for tp in partitions}
        changelogs = [
            TopicPartition(table.changelog_topic, n) for table in self.tables for n in numbers
        ]
        started = time.monotonic()
        log.info("%s: restoring partitions %s from the changelogs", self.name, sorted(numbers))
        contents = await read_compacted(self.bootstrap, changelogs)
        for table in self.tables:
            for n in numbers:
                table.load(n, contents[TopicPartition(table.changelog_topic, n)])
        log.info(
            "%s: restored %d keys in %.2f s",
            self.name,
            sum(len(content) for content in contents.values()),
            time.monotonic() - started,
        )

    def revoked(self, partitions: set[TopicPartition]) -> None:
        """Forget the lost partitions: their next owner loads them from the changelogs."""
        numbers = {tp.partition for tp in partitions}
        for table in self.tables:
            table.forget(numbers)
