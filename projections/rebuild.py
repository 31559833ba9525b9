"""Rebuild a projection from offset 0 into fresh tables, then swap them in atomically.

Why: the Kafka log is the system of record, so a read model with a bug fixed, a new
column or a suspected gap is rebuilt rather than patched, and the rebuilt tables must
equal what the live sink would have produced. Readers keep reading the old tables until
the new ones are complete, then switch in one transaction.

How (`rebuild(settings)`, `dronefleet-projections rebuild [--projection core]`):

1. A session advisory lock allows one rebuild per database at a time.
2. `projections.shadow.prepare_shadow` creates a fresh shadow schema and runs every
   migration in it: the same DDL, a separate `projection_checkpoints` table.
3. The end offsets of every partition of the projected topics are read once; a consumer
   without a group (manual assignment, nothing committed, no rebalance:
   `kafkaio.log_range`) reads each partition from its beginning up to that end and
   writes through the sink's own
   `PostgresWriter` (same rows, same COPY, same `ON CONFLICT DO NOTHING`, checkpoints in
   the same transaction) into the shadow. The materialized roll-ups are refreshed there.
4. In one transaction on the live schema: take the sink's write lock exclusively (a
   running live sink finishes its batch, then waits); read the live checkpoints; catch
   the shadow up to the larger of its own and the live checkpoint of each partition, so
   the swapped-in checkpoints are never behind the live sink's consumer position and the
   live sink goes on with no gap (records it has already read again are absorbed by the
   unique keys); copy other projections' checkpoints; swap (see `projections.shadow` for
   why the relations are moved rather than renamed, and how views stay bound); commit.

The rebuild holds what Kafka still holds: a topic whose retention dropped old records
(telemetry, tracking) rebuilds without them, though the live tables may still keep them.
Telemetry is replayed from `accepted-telemetry` (`projections.sink.projected_topics`), so
a rebuild keeps only the fixes the gate accepted, and `drone_latest` comes out equal to
live because its upsert keeps the newest fix whatever the order of the batches.
Progress (events/s, % of the end offsets) goes to `on_progress`; the CLI prints it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

import psycopg
from aiokafka import AIOKafkaConsumer, TopicPartition
from psycopg import sql

from kafkaio.admin import admin_client
from kafkaio.connection import aiokafka_options
from kafkaio.log_range import read_range
from projections.rollups import refresh_rollups
from projections.settings import ProjectionsSettings
from projections.shadow import (
    SHADOW_SCHEMA,
    SwapError,
    drop_shadow,
    live_schema,
    prepare_shadow,
    swap,
)
from projections.sink import WRITE_LOCK, PostgresWriter, SinkStats, build_rows, projected_topics

REBUILD_LOCK = 0x0D50_F1F0  # one rebuild per database at a time


class RebuildError(RuntimeError):
    """The rebuild could not finish; the live tables are unchanged."""


@dataclass(frozen=True, slots=True)
class Progress:
    """How far a replay phase is: records covered of those to read, and the pace."""

    phase: str
    done: int
    total: int
    elapsed_s: float

    @property
    def percent(self) -> float:
        """Share of the end offsets reached, 0-100."""
        return 100.0 if self.total == 0 else 100.0 * self.done / self.total

    @property
    def events_per_s(self) -> float:
        """Records read per second of the phase so far."""
        return self.done / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def line(self) -> str:
        """One human-readable progress line."""
        return (
            f"{self.phase}: {self.done:,}/{self.total:,} events ({self.percent:.1f}%)"
            f" at {self.events_per_s:,.0f} events/s"
        )


@dataclass(frozen=True, slots=True)
class RebuildResult:
    """What a finished rebuild did."""

    events: int
    replay_s: float
    total_s: float
    caught_up: int
    relations: list[str]

    @property
    def events_per_s(self) -> float:
        """Events replayed per second in the main replay phase."""
        return self.events / self.replay_s if self.replay_s > 0 else 0.0


ProgressCallback = Callable[[Progress], None]


class LogReader:
    """Reads partitions between given offsets, without a consumer group."""

    def __init__(self, settings: ProjectionsSettings) -> None:
        self.settings = settings
        self.topic_names, self.dead_letter_topic = projected_topics(settings.topics)
        self.consumer = AIOKafkaConsumer(
            **aiokafka_options(settings.kafka),
            enable_auto_commit=False,
            auto_offset_reset="earliest",  # offsets dropped by retention: from the first kept
            max_partition_fetch_bytes=4 * 1024 * 1024,
        )

    async def __aenter__(self) -> LogReader:
        await self.consumer.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.consumer.stop()

    async def end_offsets(self) -> dict[TopicPartition, int]:
        """The current end offset of every partition of the projected topics."""
        async with admin_client(self.settings.kafka) as admin:
            described = await admin.describe_topics(self.topic_names)
        missing = sorted(str(t["topic"]) for t in described if t["error_code"] != 0)
        if missing:
            raise RebuildError(f"topics not found on {self.settings.kafka_bootstrap}: {missing}")
        partitions = [
            TopicPartition(str(t["topic"]), int(p["partition"]))
            for t in described
            for p in t["partitions"]
        ]
        ends: dict[TopicPartition, int] = await self.consumer.end_offsets(partitions)
        return dict(ends)

    async def replay(
        self,
        writer: PostgresWriter,
        stats: SinkStats,
        starts: dict[TopicPartition, int],
        targets: dict[TopicPartition, int],
        report: Callable[[int, int], None],
    ) -> int:
        """Write every record in [start, target) of each partition; return records covered."""
        pending = {tp: end for tp, end in targets.items() if starts.get(tp, 0) < end}
        total = sum(end - starts.get(tp, 0) for tp, end in pending.items())
        done = 0
        if not pending:
            report(0, 0)
            return 0
        reached = {tp: starts.get(tp, 0) for tp in pending}
        async for batch in read_range(
            self.consumer,
            pending,
            pending,
            starts,
            max_records=self.settings.batch_max_rows,
            timeout_ms=500,
        ):
            await writer.write(
                build_rows(
                    ((r.topic, r.value) for r in batch.records), stats, self.dead_letter_topic
                ),
                batch.reached,
            )
            for tp, offset in batch.reached.items():
                done += offset - reached[tp]
                reached[tp] = offset
            report(done, total)
        return done


async def rebuild(
    settings: ProjectionsSettings,
    on_progress: ProgressCallback | None = None,
    progress_interval_s: float = 2.0,
) -> RebuildResult:
    """Rebuild `settings.projection` from offset 0 and swap it in; see the module docstring."""
    started = time.monotonic()
    live = await asyncio.to_thread(live_schema, settings.database_url)
    async with await psycopg.AsyncConnection.connect(
        settings.database_url, autocommit=True
    ) as guard:
        cursor = await guard.execute("SELECT pg_try_advisory_lock(%s)", (REBUILD_LOCK,))
        row = await cursor.fetchone()
        if row is None or row[0] is not True:
            raise RebuildError("another rebuild of this database is running")
        shadow_url = await asyncio.to_thread(prepare_shadow, settings.database_url)
        stats = SinkStats()
        writer = PostgresWriter(settings.model_copy(update={"database_url": shadow_url}), stats)
        try:
            async with LogReader(settings) as reader:
                ends = await reader.end_offsets()
                replay_started = time.monotonic()
                events = await reader.replay(
                    writer, stats, {}, ends, _reporter("replay", on_progress, progress_interval_s)
                )
                replay_s = time.monotonic() - replay_started
                await asyncio.to_thread(refresh_rollups, shadow_url)
                caught_up, relations = await _catch_up_and_swap(
                    settings, live, reader, writer, stats, shadow_url, on_progress
                )
        except BaseException:
            await writer.close()
            await asyncio.to_thread(drop_shadow, settings.database_url)
            raise
        await writer.close()
    return RebuildResult(
        events=events,
        replay_s=replay_s,
        total_s=time.monotonic() - started,
        caught_up=caught_up,
        relations=relations,
    )


async def _catch_up_and_swap(
    settings: ProjectionsSettings,
    live: str,
    reader: LogReader,
    writer: PostgresWriter,
    stats: SinkStats,
    shadow_url: str,
    on_progress: ProgressCallback | None,
) -> tuple[int, list[str]]:
    """Under the live write lock: catch up with the live sink, then swap (one transaction)."""
    async with await psycopg.AsyncConnection.connect(settings.database_url) as conn:
        try:
            async with conn.transaction():
                await conn.execute("SET LOCAL lock_timeout = '30s'")
                await conn.execute(
                    "SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (WRITE_LOCK, live)
                )
                cursor = await conn.execute(
                    sql.SQL(
                        "SELECT topic, partition, next_offset FROM {} WHERE projection = %s"
                    ).format(sql.Identifier(live, "projection_checkpoints")),
                    (settings.projection,),
                )
                live_at = {
                    TopicPartition(str(t), int(str(p))): int(str(o))
                    for t, p, o in await cursor.fetchall()
                }
                shadow_at = await writer.checkpoints(live_at)
                targets = {tp: max(o, shadow_at.get(tp, 0)) for tp, o in live_at.items()}
                caught_up = await reader.replay(
                    writer, stats, shadow_at, targets, _reporter("catch-up", on_progress, 0.0)
                )
                if caught_up:
                    await asyncio.to_thread(refresh_rollups, shadow_url)
                await conn.execute(
                    sql.SQL(
                        "INSERT INTO {} SELECT * FROM {} WHERE projection <> %s"
                        " ON CONFLICT DO NOTHING"
                    ).format(
                        sql.Identifier(SHADOW_SCHEMA, "projection_checkpoints"),
                        sql.Identifier(live, "projection_checkpoints"),
                    ),
                    (settings.projection,),
                )
                relations = await swap(conn, live)
        except psycopg.errors.LockNotAvailable as error:
            raise RebuildError(
                f"could not lock the live tables within 30 s ({error}); "
                "a long query holds them: retry later"
            ) from error
        except SwapError as error:
            raise RebuildError(str(error)) from error
    return caught_up, relations


def _reporter(
    phase: str, on_progress: ProgressCallback | None, interval_s: float
) -> Callable[[int, int], None]:
    """A report(done, total) that calls on_progress at most every interval_s, and at 100%."""
    started = time.monotonic()
    last = float("-inf")

    def report(done: int, total: int) -> None:
        nonlocal last
        now = time.monotonic()
        if on_progress is not None and (done >= total or now - last >= interval_s):
            last = now
            on_progress(Progress(phase, done, total, now - started))

    return report
