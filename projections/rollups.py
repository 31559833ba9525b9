"""Keeping the analyst roll-ups fresh where nothing else does.

On TimescaleDB `drone_minute_stats` is a continuous aggregate: its policy and real-time
aggregation keep it current. On plain PostgreSQL it is a table (migration 0070)
maintained incrementally: the sink notes, in the transaction that writes the fixes,
the minutes they fall in (`note_minutes`, into `drone_minute_pending`), and a refresh
re-aggregates those minutes only, each from its own minute of `telemetry` (partition
pruning and the BRIN index on `observed_at` find them). Its cost is the fixes of the
minutes that changed since the last refresh (the fleet's fixes of about
`rollup_refresh_interval_s`), however long the history: before 0070 it re-aggregated
every fix (4.4 s at 6 million fixes). The result is the same as aggregating everything
(the same rows, grouped the same way), so a rebuild still equals live.

Rows written by anything but the sink (SQL by hand, a bulk load, the tests' data sets)
note no minute: `refresh_rollups(full=True)` (`dronefleet-projections refresh --full`)
re-aggregates everything once, and a refresh that finds the roll-up empty while there
are fixes does so by itself (a new or converted database).

Every roll-up that is an ordinary materialized view (`delivery_hourly_outcomes`, on both
paths) is refreshed CONCURRENTLY, so that readers are never blocked. The sink calls
this at most every `rollup_refresh_interval_s` after it wrote rows, in a worker thread so
the consume loop keeps going; `dronefleet-projections refresh` and the tests call it
directly.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

import psycopg
from psycopg import sql

from projections.partitions import MINUTE_STATS, Conn, ensure, is_partitioned

ROLLUPS = ("drone_minute_stats", "delivery_hourly_outcomes")
ROLLUP_LOCK = 0x0D50_F1F1  # one incremental refresh per schema at a time

_MINUTES = (
    "INSERT INTO drone_minute_stats SELECT t.drone_id, m.minute, count(*),"
    " avg(ground_speed_mps), max(ground_speed_mps), min(battery_pct), max(battery_pct),"
    " min(observed_at), max(observed_at)"
    " FROM unnest(%s::timestamptz[]) AS m(minute)"
    " JOIN telemetry t ON t.observed_at >= m.minute"
    " AND t.observed_at < m.minute + INTERVAL '1 minute'"
    " GROUP BY t.drone_id, m.minute"
)
_EVERYTHING = (
    "INSERT INTO drone_minute_stats SELECT drone_id,"
    " date_bin(INTERVAL '1 minute', observed_at, TIMESTAMPTZ '2000-01-03 00:00:00+00'),"
    " count(*), avg(ground_speed_mps), max(ground_speed_mps), min(battery_pct),"
    " max(battery_pct), min(observed_at), max(observed_at)"
    " FROM telemetry GROUP BY 1, 2"
)


def minutes_of(moments: Iterable[datetime]) -> set[datetime]:
    """The UTC minutes the moments fall in (what `note_minutes` records).

    On the sink's hot path (every fix of every batch): the fields of each moment, kept
    with its time zone, then the few distinct minutes converted. A quarter of the cost
    of a `timestamp()` per fix (1 ms per 5,000 fixes).
    """
    fields = {(m.year, m.month, m.day, m.hour, m.minute, m.tzinfo) for m in moments}
    return {datetime(*f[:5], tzinfo=f[5]).astimezone(UTC) for f in fields}


def note_minutes(cursor: psycopg.Cursor[tuple[object, ...]], minutes: set[datetime]) -> None:
    """In the caller's transaction: these minutes received fixes (plain PostgreSQL only)."""
    if minutes:
        cursor.execute(
            "INSERT INTO drone_minute_pending (minute) SELECT unnest(%s::timestamptz[])",
            (sorted(minutes),),
        )


def refresh_rollups(database_url: str, full: bool = False) -> list[str]:
    """Refresh the roll-ups that are not continuous aggregates here; return their names.

    `full`: re-aggregate every minute of `drone_minute_stats` (after a bulk load).
    """
    with psycopg.connect(database_url, autocommit=True) as conn:
        return refresh_rollups_on(conn, full)


def refresh_rollups_on(conn: Conn, full: bool = False) -> list[str]:
    """`refresh_rollups` on a connection the caller holds (in autocommit mode).

    The sink's insert writer refreshes on its own connection, between batches: a
    one-connection server (the WASM TimescaleDB) would never serve a second one.
    """
    incremental = []
    if is_partitioned(conn, "drone_minute_stats"):
        refresh_minute_stats(conn, full)
        incremental.append("drone_minute_stats")
    materialized = [
        str(row[0])
        for row in conn.execute(
            "SELECT matviewname FROM pg_matviews"
            " WHERE schemaname = current_schema() AND matviewname = ANY(%s)"
            " ORDER BY matviewname",
            (list(ROLLUPS),),
        )
    ]
    for name in materialized:  # before 0070, drone_minute_stats is one of them
        conn.execute(
            sql.SQL("REFRESH MATERIALIZED VIEW CONCURRENTLY {}").format(sql.Identifier(name))
        )
    return sorted(incremental + materialized)


def refresh_minute_stats(conn: Conn, full: bool = False) -> int:
    """Re-aggregate the noted minutes (or all); return how many minutes were redone.

    One transaction: readers see the old rows of a minute until it commits, then the new
    ones. Notes are consumed by id, so a minute noted again meanwhile stays for the
    next refresh.
    """
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s, hashtext(current_schema()))", (ROLLUP_LOCK,))
        notes = conn.execute("SELECT id, minute FROM drone_minute_pending").fetchall()
        ids = [note[0] for note in notes]
        if not full and not notes:
            found = conn.execute(
                "SELECT NOT EXISTS (SELECT 1 FROM drone_minute_stats)"
                " AND EXISTS (SELECT 1 FROM telemetry)"
            ).fetchone()
            full = bool(found and found[0])
        if full:
            days = conn.execute(
                "SELECT DISTINCT date_bin(INTERVAL '1 day', observed_at,"
                " TIMESTAMPTZ '2000-01-03 00:00:00+00') FROM telemetry"
            ).fetchall()
            ensure(conn, MINUTE_STATS, [_moment(day[0]) for day in days])
            conn.execute("DELETE FROM drone_minute_stats")
            conn.execute(_EVERYTHING)
            redone = -1
        elif notes:
            minutes = sorted({_moment(note[1]) for note in notes})
            ensure(conn, MINUTE_STATS, {MINUTE_STATS.start_of(m) for m in minutes})
            conn.execute("DELETE FROM drone_minute_stats WHERE minute = ANY(%s)", (minutes,))
            conn.execute(_MINUTES, (minutes,))
            redone = len(minutes)
        else:
            return 0
        conn.execute("DELETE FROM drone_minute_pending WHERE id = ANY(%s)", (ids,))
    return redone


def _moment(value: object) -> datetime:
    assert isinstance(value, datetime)
    return value
