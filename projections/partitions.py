"""Time partitions of the history on plain PostgreSQL: created ahead, dropped by retention.

Migration 0070 range-partitions `telemetry` and `tracking` by UTC hour of `observed_at`
and `drone_minute_stats` by UTC day of `minute` (why those widths: the migration says).
This module keeps them:

* ahead: `maintain` creates the partitions of the current period and the next ones
  (`partitions_ahead_hours`), so the sink's COPY never waits for DDL in steady state;
* on demand: `PartitionGuard` (the sink's writer) creates, in the batch's own
  transaction, the partition of an hour that has none (a replay or rebuild of old
  history, a sink that was stopped), so every fix lands in its hour's partition;
* by retention: `maintain` drops whole partitions older than the retention (no DELETE,
  no bloat, no VACUUM debt) and deletes old rows from the DEFAULT partition.

Who runs `maintain`: the sink, in the same worker thread and loop as the roll-up
refresh (`projections.sink.RollupRefresher`), every `maintenance_interval_s`. Why there
and not a cron job or pg_cron: the sink is the one process that must be running for
history to be written at all, it already has a periodic off-the-hot-path thread, and a
database without a sink receives no fixes that would need a new partition. A rebuild's
shadow gets the partitions of the hours it replays from its writer.
`dronefleet-projections maintain` runs it by hand.

Retention counts from the newest history kept, not from the wall clock alone: the
cut-off is `min(now, end of the newest non-empty partition) - retention`. A sink that
was stopped for a week does not drop everything when it starts again, and a replay of
old history keeps its last days.

Creating a partition is `CREATE TABLE (LIKE parent)`, moving the DEFAULT partition's
rows of that range into it, then `ATTACH PARTITION`: attaching takes only a SHARE UPDATE
EXCLUSIVE lock on the parent (the sink's writes and readers go on), where
`CREATE TABLE ... PARTITION OF` would take an ACCESS EXCLUSIVE one. Dropping a partition
does lock the parent exclusively for a moment (DETACH ... CONCURRENTLY is refused when
a DEFAULT partition exists), so `maintain` sets a short `lock_timeout` and leaves a
partition it could not lock to its next run.

On TimescaleDB the tables are hypertables: chunks, compression and retention are the
extension's policies (migrations 0002 and 0070), and everything here is a no-op.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg import sql

log = logging.getLogger(__name__)

ORIGIN = datetime(2000, 1, 3, tzinfo=UTC)
"""The buckets' origin (`date_bin(..., TIMESTAMPTZ '2000-01-03 00:00:00+00')`): a UTC midnight."""


@dataclass(frozen=True, slots=True)
class Partitioning:
    """How one table is partitioned: by which column, how wide, how partitions are named."""

    table: str
    column: str
    width: timedelta
    suffix: str  # strftime of the partition's start, in UTC

    def start_of(self, moment: datetime) -> datetime:
        """The start of the partition that holds `moment`."""
        return ORIGIN + ((moment - ORIGIN) // self.width) * self.width

    def name_of(self, start: datetime) -> str:
        """The partition's name: `<table>_p<start>` (e.g. telemetry_p20261205t17)."""
        return f"{self.table}_p{start.astimezone(UTC).strftime(self.suffix)}"

    @property
    def default(self) -> str:
        """The DEFAULT partition, for rows no other partition takes."""
        return f"{self.table}_default"


HOUR = timedelta(hours=1)
TELEMETRY = Partitioning("telemetry", "observed_at", HOUR, "%Y%m%dt%H")
TRACKING = Partitioning("tracking", "observed_at", HOUR, "%Y%m%dt%H")
MINUTE_STATS = Partitioning("drone_minute_stats", "minute", timedelta(days=1), "%Y%m%d")
HISTORY = (TELEMETRY, TRACKING)

Bounds = tuple[datetime | None, datetime | None]
"""A partition's [from, to): None for MINVALUE / MAXVALUE."""

_BOUNDS = """
SELECT c.relname,
       (regexp_match(b, 'FROM \\(''([^'']*)''\\)'))[1]::timestamptz,
       (regexp_match(b, 'TO \\(''([^'']*)''\\)'))[1]::timestamptz
FROM pg_inherits i
JOIN pg_class c ON c.oid = i.inhrelid
CROSS JOIN LATERAL pg_get_expr(c.relpartbound, c.oid) AS b
WHERE i.inhparent = to_regclass(%s) AND b <> 'DEFAULT'
ORDER BY 3 NULLS LAST
"""

Conn = psycopg.Connection[tuple[object, ...]]


def is_partitioned(conn: Conn, table: str = TELEMETRY.table) -> bool:
    """Whether `table` is a declaratively partitioned table here (plain PostgreSQL, 0070)."""
    row = conn.execute(
        "SELECT relkind = 'p' FROM pg_class WHERE oid = to_regclass(%s)", (table,)
    ).fetchone()
    return bool(row and row[0])


def partitions(conn: Conn, spec: Partitioning) -> dict[str, Bounds]:
    """Every partition of the table but the DEFAULT one, with its bounds, oldest first."""
    rows = conn.execute(_BOUNDS, (spec.table,)).fetchall()
    return {str(name): (_moment(lo), _moment(hi)) for name, lo, hi in rows}


def covered(held: Iterable[Bounds], start: datetime, end: datetime) -> bool:
    """Whether one partition holds the whole [start, end)."""
    return any((lo is None or lo <= start) and (hi is None or hi >= end) for lo, hi in held)


def ensure(conn: Conn, spec: Partitioning, starts: Iterable[datetime]) -> list[str]:
    """Create the partitions starting at `starts` that no partition covers; return their names.

    Runs in the caller's transaction (the sink's batch, or `maintain`'s). A period that
    an existing partition covers only in part (never with the partitions this module
    makes) is left to the DEFAULT partition.
    """
    held = list(partitions(conn, spec).values())
    created = []
    for start in sorted(set(starts)):
        end = start + spec.width
        if covered(held, start, end):
            continue
        if any((lo is None or lo < end) and (hi is None or hi > start) for lo, hi in held):
            log.warning(
                "%s: [%s, %s) overlaps a partition; left to the default", spec.table, start, end
            )
            continue
        name = spec.name_of(start)
        table, part, default = (sql.Identifier(n) for n in (spec.table, name, spec.default))
        column = sql.Identifier(spec.column)
        conn.execute(
            sql.SQL(
                "CREATE TABLE {} (LIKE {} INCLUDING DEFAULTS INCLUDING CONSTRAINTS"
                " INCLUDING STORAGE)"
            ).format(part, table)
        )
        conn.execute(
            sql.SQL(
                "WITH moved AS (DELETE FROM {} WHERE {} >= %s AND {} < %s RETURNING *)"
                " INSERT INTO {} SELECT * FROM moved"
            ).format(default, column, column, part),
            (start, end),
        )
        conn.execute(
            sql.SQL("ALTER TABLE {} ATTACH PARTITION {} FOR VALUES FROM ({}) TO ({})").format(
                table, part, sql.Literal(start), sql.Literal(end)
            )
        )
        held.append((start, end))
        created.append(name)
    return created


class PartitionGuard:
    """The sink writer's check that every row's period has a partition, before the COPY.

    Remembers the partitions it has seen per connection, so a batch whose hours are
    known (every batch but the first of each hour) costs a set lookup and no query.
    """

    def __init__(self) -> None:
        self._active: bool | None = None
        self._known: dict[str, set[datetime]] = {}

    def forget(self) -> None:
        """After a reconnect or a failed transaction: read the catalog again next time."""
        self._active = None
        self._known.clear()

    def active(self, conn: Conn) -> bool:
        """Whether the history is partitioned here (plain PostgreSQL after 0070)."""
        if self._active is None:
            self._active = is_partitioned(conn)
        return self._active

    def ensure(self, conn: Conn, spec: Partitioning, starts: set[datetime]) -> None:
        """Create the missing partitions of `starts` in the caller's transaction."""
        if not self.active(conn):
            return
        known = self._known.setdefault(spec.table, set())
        missing = starts - known
        if not missing:
            return
        created = ensure(conn, spec, missing)
        if created:
            log.info("created partitions %s", ", ".join(created))
        known.update(missing)


@dataclass
class MaintenanceReport:
    """What one `maintain` run changed."""

    created: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    default_rows_deleted: int = 0
    skipped: list[str] = field(default_factory=list)  # could not lock; next run


def maintain(
    database_url: str,
    retention: timedelta,
    rollup_retention: timedelta,
    ahead: timedelta,
    now: datetime | None = None,
    lock_timeout_ms: int = 2000,
) -> MaintenanceReport:
    """Create the partitions ahead, then drop those older than the retention."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        return maintain_on(conn, retention, rollup_retention, ahead, now, lock_timeout_ms)


def maintain_on(
    conn: Conn,
    retention: timedelta,
    rollup_retention: timedelta,
    ahead: timedelta,
    now: datetime | None = None,
    lock_timeout_ms: int = 2000,
) -> MaintenanceReport:
    """`maintain` on a connection the caller holds (in autocommit mode).

    The sink's insert writer runs it on its own connection, between batches (a
    one-connection server would never serve a second one); the `lock_timeout` it needs
    is reset afterwards, so the writer's statements do not inherit it.
    """
    moment = now or datetime.now(UTC)
    report = MaintenanceReport()
    if not is_partitioned(conn):
        return report
    conn.execute(f"SET lock_timeout = {int(lock_timeout_ms)}")
    try:
        for spec, keep in (
            (TELEMETRY, retention),
            (TRACKING, retention),
            (MINUTE_STATS, rollup_retention),
        ):
            first = spec.start_of(moment)
            steps = max(1, int(ahead / spec.width) + 1)
            starts = [first + i * spec.width for i in range(steps)]
            try:
                with conn.transaction():
                    report.created += ensure(conn, spec, starts)
            except psycopg.errors.LockNotAvailable:
                report.skipped.append(spec.table)
            _expire(conn, spec, moment, keep, report)
    finally:
        conn.execute("RESET lock_timeout")
    if report.created or report.dropped:
        log.info(
            "partitions: created %s; dropped %s", report.created or "none", report.dropped or "none"
        )
    return report


def _expire(
    conn: Conn, spec: Partitioning, now: datetime, keep: timedelta, report: MaintenanceReport
) -> None:
    """Drop the partitions that end before the cut-off; delete older default rows."""
    held = partitions(conn, spec)
    newest_end = None
    for name, (_, hi) in sorted(held.items(), key=lambda item: _sort_key(item[1][1]), reverse=True):
        if hi is not None and hi <= now + spec.width and _has_rows(conn, name):
            newest_end = hi
            break
    reference = now if newest_end is None else min(now, newest_end)
    cutoff = reference - keep
    for name, (_, hi) in held.items():
        if hi is None or hi > cutoff:
            continue
        try:
            conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(name)))
            report.dropped.append(name)
        except psycopg.errors.LockNotAvailable:
            report.skipped.append(name)
    try:
        cursor = conn.execute(
            sql.SQL("DELETE FROM {} WHERE {} < %s").format(
                sql.Identifier(spec.default), sql.Identifier(spec.column)
            ),
            (cutoff,),
        )
        report.default_rows_deleted += max(cursor.rowcount, 0)
    except psycopg.errors.LockNotAvailable:
        report.skipped.append(spec.default)


def _has_rows(conn: Conn, name: str) -> bool:
    row = conn.execute(sql.SQL("SELECT EXISTS (SELECT 1 FROM {})").format(sql.Identifier(name)))
    found = row.fetchone()
    return bool(found and found[0])


def _sort_key(moment: datetime | None) -> datetime:
    return moment if moment is not None else datetime.max.replace(tzinfo=UTC)


def _moment(value: object) -> datetime | None:
    return value if isinstance(value, datetime) else None
