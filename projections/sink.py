"""The sink: Kafka records -> rows, written with binary COPY and an offset checkpoint.

Each batch (up to `batch_max_rows`, or what arrived within `flush_interval_ms`) is
written in one transaction: a binary COPY straight into each projected table (under a
savepoint), or, when the batch repeats a row the table already holds, COPY into a
session-local staging table and INSERT ... ON CONFLICT DO NOTHING; then the next offset
of every partition is upserted into `projection_checkpoints`. The direct COPY is the
common case and runs at the speed of psql's own COPY; the staging path is what keeps a repeat
harmless. On (re)assignment the consumer seeks to those
checkpoints, so a crash between write and commit, a redelivery or a replay adds no row
twice and skips none. When PostgreSQL goes away the sink keeps the batch, reconnects with
backoff and writes it again. Writes run on a thread of their own (`PostgresWriter`), one
batch in flight while the next is fetched and decoded.

Servers without COPY (the WASM TimescaleDB that CI runs, some poolers) get the insert
writer instead (`DRONEFLEET_PROJECTIONS_WRITER=insert`, `projections.insert_writer`): the
same rows, conflict clauses, state statements and checkpoint in the same transaction,
as batched INSERTs of column arrays (`unnest`), over one connection that the roll-up
refresh and the partition maintenance share (between batches, on the writer's thread).

The dead-letter topic is sunk too (into `dead_letters`), and after batches that changed
the roll-ups' inputs the materialized roll-ups are refreshed, at most every
`rollup_refresh_interval_s` (see `projections.rollups`).

Only what the platform accepted is history: telemetry comes from `accepted-telemetry`,
which the telemetry gate writes (the original bytes of every fix and milestone it
accepted), not from the raw `telemetry` topic the drones write. Why a topic and not a
filter here: the gate's verdicts depend on what it saw before and on the time it ran
(too old, from the future), so the sink could not repeat them and a rebuild would not
equal live; joining `telemetry` against the dead letters would wait for a verdict that
never comes for accepted fixes; and a log of the accepted records is what event sourcing
replays. It costs the gate one more record per fix to produce (BENCHMARKS.md, "Accepted
telemetry") and the broker one more copy of the fixes (7 days, like `telemetry`).

"Now" is kept as state: in the same transaction as a batch's telemetry rows, the newest
fix of each drone in the batch is upserted into `drone_latest` (through a staging table:
one COPY and one `INSERT ... ON CONFLICT DO UPDATE ... WHERE newer`, see
`projections.rows.LATEST_UPSERT`), so `drone_latest_view` and the fleet summary read one
row per drone, whatever the length of the history, and an older fix arriving later
changes nothing.

The same for deliveries: in that transaction, the deliveries whose events the batch
carried are re-folded into `delivery_current` from `delivery_events`, and the batch's
newest tracking update of each delivery moves its row forward
(`projections.rows.EVENTS_FOLD`, `TRACKING_UPSERT`), so the dashboard's in-flight list,
the API's waiting line and one delivery's status read the rows they ask for, not a fold
of every delivery ever requested.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

import msgspec
import psycopg
from aiokafka.structs import TopicPartition
from psycopg import sql

from contracts import AnyEvent, DecodeError, Topics, decode_dead_letter, decode_event
from projections.insert_writer import connect as connect_for_inserts
from projections.insert_writer import insert_rows
from projections.partitions import TELEMETRY as TELEMETRY_PARTS
from projections.partitions import TRACKING as TRACKING_PARTS
from projections.partitions import PartitionGuard, maintain_on
from projections.rollups import minutes_of, note_minutes, refresh_rollups, refresh_rollups_on
from projections.rows import (
    DEAD_LETTERS,
    DELIVERY_EVENTS,
    DRONE_LATEST,
    EVENTS_FOLD,
    LATEST_UPSERT,
    LAYOUTS,
    TELEMETRY,
    TRACKING,
    TRACKING_CURRENT_COLUMNS,
    TRACKING_UPSERT,
    Row,
    TableLayout,
    dead_letter_row,
    newest_per_delivery,
    newest_per_drone,
    to_row,
)
from projections.settings import ProjectionsSettings
from projections.source import CheckpointedSource, Record

log = logging.getLogger(__name__)

T = TypeVar("T")
Conn = psycopg.Connection[tuple[object, ...]]

# Every batch transaction takes this advisory lock in shared mode, keyed by the schema it
# writes (`hashtext(current_schema())`), before touching any table. A rebuild takes it in
# exclusive mode for the live schema while it catches up and swaps the rebuilt tables in
# (`projections.rebuild`): live batches wait for the swap instead of landing in the tables
# being retired, and because they take it first there is no lock-order deadlock.
WRITE_LOCK = 0x0D50_F1EF


@dataclass
class SinkStats:
    """Counters a caller (CLI progress, tests, benchmarks) can read."""

    records: int = 0
    rows_written: int = 0
    undecodable: int = 0
    batches: int = 0
    reconnects: int = 0
    refreshes: int = 0
    by_table: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    write_seconds: float = 0.0
    """Time the committed batches' transactions took, summed (retries included)."""
    last_checkpoint_at: float | None = None
    """Wall time (epoch seconds) of the last committed batch and its checkpoint."""
    database_up: bool = False
    """The writer holds an open connection (the sink's readiness)."""


def build_rows(
    records: Iterable[Record],
    stats: SinkStats,
    dead_letter_topic: str | None = None,
    lifecycle: tuple[str, list[AnyEvent]] | None = None,
) -> dict[TableLayout, list[Row]]:
    """Decode records into rows per table; undecodable ones are counted, logged and skipped.

    Telemetry that does not decode is the stream processors' to dead-letter (they read
    the same topic); the sink never stops on it. Records of `dead_letter_topic` are
    dead-letter envelopes, not events. `lifecycle` (the deliveries topic's name and a
    list): the events of that topic are added to the list, for the sink to log each with
    its delivery's id once written (a few per delivery, never per fix).
    """
    rows: dict[TableLayout, list[Row]] = defaultdict(list)
    for topic, value in records:
        stats.records += 1
        if value is None:
            continue
        if topic == dead_letter_topic:
            try:
                rows[DEAD_LETTERS].append(dead_letter_row(decode_dead_letter(value)))
            except (msgspec.DecodeError, ValueError) as error:  # bad JSON, bad base64
                stats.undecodable += 1
                _log_refused(topic, error)
            continue
        try:
            event = decode_event(value)
        except DecodeError as error:  # includes invalid UTF-8 inside a string (contracts.codec)
            stats.undecodable += 1
            _log_refused(topic, error)
            continue
        if lifecycle is not None and topic == lifecycle[0]:
            lifecycle[1].append(event)
        placed = to_row(event)
        if placed is not None:
            rows[placed[0]].append(placed[1])
    return rows


def _log_refused(topic: str, error: Exception) -> None:
    """A record the sink cannot decode: skipped, counted (`undecodable`), and said here."""
    log.warning("an undecodable record of %s was skipped: %s", topic, error, extra={"topic": topic})


def log_recorded(events: Iterable[AnyEvent]) -> None:
    """Each delivery event now in the read model, with its delivery's and drone's ids."""
    for event in events:
        delivery_id = getattr(event, "delivery_id", None)
        drone_id = getattr(event, "drone_id", None)
        log.info(
            "%s of delivery %s recorded",
            event.event_type,
            delivery_id,
            extra={"delivery_id": delivery_id, "drone_id": drone_id},
        )


class PostgresWriter:
    """Writes batches and checkpoints in one transaction; reconnects when needed.

    Every database call runs on one dedicated thread with a blocking connection. That
    thread is what lets a write overlap with fetching and decoding the next batch: libpq
    releases the GIL while it sends the COPY and waits for the server, whereas an
    asyncio connection would need the event loop at every round trip and stall the
    server whenever the loop is busy decoding. One thread also orders the calls: a
    checkpoint read queued behind a write sees that write committed.

    `settings.writer`: `copy` (binary COPY, see the module) or `insert`
    (`projections.insert_writer`: INSERTs of column arrays, for servers
    without COPY); with `insert`, `on_connection` is how the rest of the sink reaches the
    database, so the whole sink holds one connection.
    """

    def __init__(self, settings: ProjectionsSettings, stats: SinkStats) -> None:
        self.settings = settings
        self.stats = stats
        self._conn: psycopg.Connection[tuple[object, ...]] | None = None
        self._partitions = PartitionGuard()
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sink-writer")
        self.inserts = settings.writer == "insert"

    def write(
        self, rows: dict[TableLayout, list[Row]], offsets: dict[TopicPartition, int]
    ) -> asyncio.Future[None]:
        """Start writing rows and the next offsets atomically; the future resolves when done.

        The write starts now, on the writer's thread, and retries until the database
        takes it; the caller may decode the next batch meanwhile.
        """
        return asyncio.wrap_future(self._thread.submit(self._write_until_done, rows, offsets))

    async def checkpoints(self, partitions: Iterable[TopicPartition]) -> dict[TopicPartition, int]:
        """The stored next offset of each partition that has one (after pending writes)."""
        wanted = list(partitions)
        return await asyncio.wrap_future(self._thread.submit(self._read_checkpoints, wanted))

    def checkpoints_blocking(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        """`checkpoints` for another thread (the consumer's rebalance callback)."""
        return self._thread.submit(self._read_checkpoints, partitions).result()

    async def on_connection(self, work: Callable[[Conn], T]) -> T:
        """Run `work` on the writer's own connection (autocommit), between two batches.

        For a server that serves one connection at a time: the roll-up refresh and the
        partition maintenance of the insert writer's sink, and a caller's own statements
        while the sink runs (the TimescaleDB tests run the retention job this way).
        """
        return await asyncio.wrap_future(self._thread.submit(self._on_connection, work))

    def _on_connection(self, work: Callable[[Conn], T]) -> T:
        conn = self._connection()
        conn.autocommit = True
        try:
            return work(conn)
        finally:
            if not conn.closed:
                conn.autocommit = False

    async def close(self) -> None:
        """Close the connection and the writer's thread."""
        await asyncio.wrap_future(self._thread.submit(self._close_connection))
        self._thread.shutdown(wait=True)

    def _connection(self) -> psycopg.Connection[tuple[object, ...]]:
        """An open connection with the staging tables, reconnecting with backoff."""
        delay = 0.2
        while self._conn is None or self._conn.closed:
            try:
                if self.inserts:  # no staging tables: no COPY to fill them
                    self._conn = connect_for_inserts(self.settings.database_url)
                    self.stats.database_up = True
                    continue
                conn = psycopg.Connection.connect(self.settings.database_url)
                for layout in (*LAYOUTS, DRONE_LATEST):
                    conn.execute(
                        sql.SQL(
                            "CREATE TEMP TABLE IF NOT EXISTS {} (LIKE {}) ON COMMIT DELETE ROWS"
                        ).format(_staging(layout), sql.Identifier(layout.name))
                    )
                conn.commit()
                self._conn = conn
                self.stats.database_up = True
            except psycopg.OperationalError as error:
                log.warning("database unavailable (%s); retrying in %.1fs", error, delay)
                time.sleep(delay)
                delay = min(delay * 2, self.settings.reconnect_max_delay_s)
        return self._conn

    def _read_checkpoints(self, wanted: list[TopicPartition]) -> dict[TopicPartition, int]:
        while True:
            conn = self._connection()
            try:
                cursor = conn.execute(
                    "SELECT topic, partition, next_offset FROM projection_checkpoints"
                    " WHERE projection = %s",
                    (self.settings.projection,),
                )
                stored: dict[TopicPartition, int] = {
                    TopicPartition(str(t), int(p)): int(o)  # type: ignore[call-overload]
                    for t, p, o in cursor.fetchall()
                }
                conn.commit()
                return {tp: stored[tp] for tp in wanted if tp in stored}
            except psycopg.OperationalError:
                self._drop_connection()

    def _write_until_done(
        self, rows: dict[TableLayout, list[Row]], offsets: dict[TopicPartition, int]
    ) -> None:
        started = time.monotonic()
        while True:
            conn = self._connection()
            try:
                self._write_once(conn, rows, offsets)
                self.stats.batches += 1
                self.stats.write_seconds += time.monotonic() - started
                self.stats.last_checkpoint_at = time.time()
                return
            except psycopg.OperationalError as error:
                log.warning("write failed (%s); reconnecting and writing the batch again", error)
                self._drop_connection()

    def _drop_connection(self) -> None:
        """Give up a broken connection; the next call reconnects."""
        self._close_connection()
        self.stats.database_up = False
        self.stats.reconnects += 1

    def _close_connection(self) -> None:
        self._partitions.forget()
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                self._conn.close()
        self._conn = None

    def _write_once(
        self,
        conn: psycopg.Connection[tuple[object, ...]],
        rows: dict[TableLayout, list[Row]],
        offsets: dict[TopicPartition, int],
    ) -> None:
        with conn.transaction():
            cursor = conn.cursor()
            cursor.execute(
                "SELECT pg_advisory_xact_lock_shared(%s, hashtext(current_schema()))",
                (WRITE_LOCK,),
            )
            minutes = minutes_of(row[2] for row in rows.get(TELEMETRY, ()))
            self._ensure_partitions(conn, rows, minutes)
            per_statement = self.settings.insert_rows_per_statement
            for layout, table_rows in rows.items():
                if not table_rows:
                    continue
                if self.inserts:
                    inserted = insert_rows(cursor, layout, table_rows, per_statement)
                else:
                    copied = _copy_into_table(conn, cursor, layout, table_rows)
                    if copied is None:
                        copied = _copy_through_staging(cursor, layout, table_rows)
                    inserted = copied
                self.stats.rows_written += inserted
                self.stats.by_table[layout.name] += inserted
            if rows.get(TELEMETRY):
                newest = newest_per_drone(rows[TELEMETRY])
                if self.inserts:
                    insert_rows(cursor, DRONE_LATEST, newest, per_statement, LATEST_UPSERT)
                else:
                    _upsert_latest(cursor, newest)
                if self._partitions.active(conn):
                    note_minutes(cursor, minutes)
            if rows.get(DELIVERY_EVENTS):
                _fold_deliveries(cursor, {row[0] for row in rows[DELIVERY_EVENTS]})
            if rows.get(TRACKING):
                _upsert_current_tracking(cursor, newest_per_delivery(rows[TRACKING]))
            cursor.executemany(
                "INSERT INTO projection_checkpoints (projection, topic, partition, next_offset)"
                " VALUES (%s, %s, %s, %s) ON CONFLICT (projection, topic, partition)"
                " DO UPDATE SET next_offset = EXCLUDED.next_offset, updated_at = now()",
                [
                    (self.settings.projection, tp.topic, tp.partition, o)
                    for tp, o in offsets.items()
                ],
            )

    def _ensure_partitions(
        self,
        conn: psycopg.Connection[tuple[object, ...]],
        rows: dict[TableLayout, list[Row]],
        minutes: set[datetime],
    ) -> None:
        """Every row's hour has its partition before the COPY (plain PostgreSQL).

        Telemetry's hours come from its minutes (already computed for the roll-up's
        notes); tracking's are computed here. Both are a few per batch.
        """
        if minutes:
            hours = {TELEMETRY_PARTS.start_of(minute) for minute in minutes}
            self._partitions.ensure(conn, TELEMETRY_PARTS, hours)
        if rows.get(TRACKING):
            hours = {TRACKING_PARTS.start_of(m) for m in minutes_of(r[2] for r in rows[TRACKING])}
            self._partitions.ensure(conn, TRACKING_PARTS, hours)


class RollupRefresher:
    """Refreshes the roll-ups when their inputs changed, and keeps the time partitions.

    The roll-ups at most every `rollup_refresh_interval_s`, the partitions
    (`projections.partitions.maintain`) every `maintenance_interval_s`. Both run in a
    worker thread with its own connection, one at a time, so a slow refresh delays
    neither the consume loop nor the batch writes. A failed run (database away) is
    logged and retried at the next opportunity.

    With the insert writer (`writer`'s `inserts`) both run on the writer's connection and
    thread instead, between batches: the sink then needs one connection, which is all a
    one-connection server (the WASM TimescaleDB) gives; a refresh then delays the next
    batch by its own duration.
    """

    INPUTS = frozenset({TELEMETRY.name, DELIVERY_EVENTS.name})

    def __init__(
        self,
        settings: ProjectionsSettings,
        stats: SinkStats,
        writer: PostgresWriter | None = None,
    ) -> None:
        self.settings = settings
        self.stats = stats
        self._writer = writer if writer is not None and writer.inserts else None
        self._dirty = False
        self._last = float("-inf")
        self._last_maintenance = float("-inf")
        self._refreshing = False
        self._task: asyncio.Task[None] | None = None

    def note_written(self, tables: Iterable[str]) -> None:
        """Remember that a batch changed a roll-up's input tables."""
        if self.INPUTS.intersection(tables):
            self._dirty = True

    def maybe_start(self) -> None:
        """Start a refresh if one is due and none is running."""
        if self._task is not None and self._task.done():
            self._finish(self._task)
            self._task = None
        if self._task is not None:
            return
        now = time.monotonic()
        refresh = self._dirty and now - self._last >= self.settings.rollup_refresh_interval_s
        keep = now - self._last_maintenance >= self.settings.maintenance_interval_s
        if refresh:
            self._dirty = False
            self._last = now
        if keep:
            self._last_maintenance = now
        if refresh or keep:
            self._refreshing = refresh
            if self._writer is not None:
                work = self._writer.on_connection(lambda conn: self._run_on(conn, refresh, keep))
                self._task = asyncio.ensure_future(work)
            else:
                self._task = asyncio.create_task(asyncio.to_thread(self._run, refresh, keep))

    def _run(self, refresh: bool, keep: bool) -> None:
        """Partitions first (the refresh may need today's roll-up partition), then roll-ups."""
        with psycopg.connect(self.settings.database_url, autocommit=True) as conn:
            self._run_on(conn, refresh, keep)

    def _run_on(self, conn: Conn, refresh: bool, keep: bool) -> None:
        if keep:
            settings = self.settings
            maintain_on(
                conn,
                retention=timedelta(hours=settings.retention_hours),
                rollup_retention=timedelta(days=settings.rollup_retention_days),
                ahead=timedelta(hours=settings.partitions_ahead_hours),
            )
        if refresh:
            refresh_rollups_on(conn)

    async def flush(self) -> None:
        """Wait for a running refresh, then refresh once more if rows came since."""
        if self._task is not None:
            await asyncio.wait({self._task})
            self._finish(self._task)
            self._task = None
        if self._dirty:
            self._dirty = False
            try:
                if self._writer is not None:
                    await self._writer.on_connection(refresh_rollups_on)
                else:
                    await asyncio.to_thread(refresh_rollups, self.settings.database_url)
                self.stats.refreshes += 1
            except psycopg.Error as error:
                log.warning("final roll-up refresh failed (%s)", error)

    def _finish(self, task: asyncio.Task[None]) -> None:
        error = task.exception()
        if error is None:
            self.stats.refreshes += int(self._refreshing)
        else:
            log.warning(
                "roll-up refresh or partition maintenance failed (%s); retrying later", error
            )
            self._dirty = self._dirty or self._refreshing
            self._last_maintenance = float("-inf")


def _copy_into_table(
    conn: psycopg.Connection[tuple[object, ...]],
    cursor: psycopg.Cursor[tuple[object, ...]],
    layout: TableLayout,
    rows: list[Row],
) -> int | None:
    """COPY straight into the table; None when a row is already there.

    The fast path: a batch that starts at the stored checkpoint holds rows the table has
    never seen, unless the log itself carries a repeat (a redelivered event, a replay over
    rows a previous projection run already wrote). The COPY runs under a savepoint, so a
    unique violation costs only this attempt and the caller takes the idempotent path.
    """
    try:
        with conn.transaction():
            _copy(cursor, layout, sql.Identifier(layout.name), rows)
    except psycopg.errors.UniqueViolation:
        return None
    return len(rows)


def _copy_through_staging(
    cursor: psycopg.Cursor[tuple[object, ...]], layout: TableLayout, rows: list[Row]
) -> int:
    """COPY into the session's staging table, then insert what the table lacks."""
    _copy(cursor, layout, _staging(layout), rows)
    inserted = _insert_from_staging(cursor, layout, sql.SQL("ON CONFLICT DO NOTHING"))
    cursor.execute(sql.SQL("TRUNCATE {}").format(_staging(layout)))
    return inserted


def _upsert_latest(cursor: psycopg.Cursor[tuple[object, ...]], newest: list[Row]) -> None:
    """Move each drone's `drone_latest` row forward to its newest fix of the batch, if newer.

    Once per transaction, so ON COMMIT DELETE ROWS is all the emptying its staging needs.
    """
    _copy(cursor, DRONE_LATEST, _staging(DRONE_LATEST), newest)
    _insert_from_staging(cursor, DRONE_LATEST, sql.SQL(LATEST_UPSERT))


_FOLD_TOUCHED = EVENTS_FOLD.format(deliveries="unnest(%s::text[]) AS d(delivery_id)")
_UPSERT_UPDATES = TRACKING_UPSERT.format(
    updates="unnest("
    + ", ".join(f"%s::{kind}[]" for _, kind in TRACKING_CURRENT_COLUMNS)
    + ") AS u("
    + ", ".join(name for name, _ in TRACKING_CURRENT_COLUMNS)
    + ")"
)


def _fold_deliveries(cursor: psycopg.Cursor[tuple[object, ...]], deliveries: set[str]) -> None:
    """Re-fold the batch's deliveries into `delivery_current` (after their events' COPY).

    From the stored events rather than the batch's: a delivery's events may arrive over
    several batches and out of order, and the fold of all of them is what the status
    view always showed. One statement, O(deliveries in the batch).
    """
    cursor.execute(_FOLD_TOUCHED, (sorted(deliveries),))


def _upsert_current_tracking(cursor: psycopg.Cursor[tuple[object, ...]], newest: list[Row]) -> None:
    """Move each delivery's latest tracking update in `delivery_current` forward, if newer.

    Arrays of columns (one per `TRACKING_CURRENT_COLUMNS`) unnested server-side: one
    round trip for the batch, no staging table.
    """
    columns = [list(values) for values in zip(*newest, strict=True)]
    cursor.execute(_UPSERT_UPDATES, columns)


def _insert_from_staging(
    cursor: psycopg.Cursor[tuple[object, ...]], layout: TableLayout, conflict: sql.SQL
) -> int:
    """INSERT the staging table's rows into the table with a conflict clause; rows changed."""
    columns = sql.SQL(", ").join(map(sql.Identifier, layout.column_names))
    cursor.execute(
        sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {} {}").format(
            sql.Identifier(layout.name), columns, columns, _staging(layout), conflict
        )
    )
    return max(cursor.rowcount, 0)


def _copy(
    cursor: psycopg.Cursor[tuple[object, ...]],
    layout: TableLayout,
    target: sql.Identifier,
    rows: list[Row],
) -> None:
    """Binary COPY of the rows into the target table."""
    columns = sql.SQL(", ").join(map(sql.Identifier, layout.column_names))
    statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(target, columns)
    with cursor.copy(statement) as copy:
        copy.set_types(layout.column_types)
        for row in rows:
            copy.write_row(row)


def _staging(layout: TableLayout) -> sql.Identifier:
    return sql.Identifier(f"staging_{layout.name}")


def projected_topics(topics: Topics) -> tuple[list[str], str]:
    """The topics a projection consumes, and which of them is the dead-letter topic.

    Telemetry is the gate's `accepted-telemetry`, never the raw `telemetry` (see above).
    """
    names = [
        topics.accepted_telemetry.name,
        topics.tracking.name,
        topics.deliveries.name,
        topics.businesses.name,
        topics.airspace.name,
    ]
    return [*names, topics.deadletter.name], topics.deadletter.name


class Sink:
    """Consumes the projected topics and writes them until `stop()` is called."""

    def __init__(self, settings: ProjectionsSettings) -> None:
        self.settings = settings
        self.stats = SinkStats()
        self.writer = PostgresWriter(settings, self.stats)
        self.refresher = RollupRefresher(settings, self.stats, self.writer)
        self._stopping = asyncio.Event()
        self.topic_names, self.dead_letter_topic = projected_topics(settings.topics)

    def stop(self) -> None:
        """Ask the loop to finish its current batch and return."""
        self._stopping.set()

    async def run(self) -> None:
        """The consume-transform-write loop."""
        source = CheckpointedSource(
            self.settings, self.topic_names, self.writer.checkpoints_blocking
        )
        await source.start()
        writing: asyncio.Task[None] | None = None
        try:
            while not self._stopping.is_set():
                batch = await source.next_batch(
                    self.settings.batch_max_rows, self.settings.flush_interval_ms / 1000
                )
                if batch.records:
                    recorded: list[AnyEvent] = []
                    rows = build_rows(
                        batch.records,
                        self.stats,
                        self.dead_letter_topic,
                        (self.settings.topics.deliveries.name, recorded),
                    )
                    if writing is not None:
                        await writing
                    writing = asyncio.create_task(
                        self._committed(
                            source,
                            self.writer.write(rows, batch.offsets),
                            rows,
                            batch.offsets,
                            recorded,
                        )
                    )
                self.refresher.maybe_start()
        finally:
            if writing is not None:
                await writing
            await source.close()
            await self.refresher.flush()
            await self.writer.close()

    async def _committed(
        self,
        source: CheckpointedSource,
        written: asyncio.Future[None],
        rows: dict[TableLayout, list[Row]],
        offsets: dict[TopicPartition, int],
        recorded: Iterable[AnyEvent] = (),
    ) -> None:
        """Wait for a batch's write (running on the writer's thread), then note and log it.

        One batch in flight at most, so batches still reach the database in log order; a
        rebalance waits for it (the checkpoint read queues behind it on that thread).
        """
        await written
        self.refresher.note_written(layout.name for layout, r in rows.items() if r)
        source.commit(offsets)
        log_recorded(recorded)
