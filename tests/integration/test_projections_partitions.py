"""Plain PostgreSQL's time partitions (migration 0070, `projections.partitions`) on the real server.

Partitions exist ahead of the clock; a fix lands in its hour's partition (made on demand
by the sink's writer when it has none); retention drops whole partitions older than the
setting and counts from the newest history; the migration converts a database that
already holds history without losing a row; and the per-minute roll-up re-aggregates
only the minutes the sink wrote fixes into.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from devstack.postgres import PostgresNode
from devstack.settings import StackSettings
from projections.migrate import available, migrate
from projections.partitions import MINUTE_STATS, TELEMETRY, TRACKING, maintain
from projections.rollups import refresh_rollups
from projections.rows import WEBHOOK_ENDPOINT_EVENTS
from tests.support import projection_dataset as ds
from tests.support.database import count
from tests.support.factories import fix, tracking
from tests.support.partition_helpers import partition_names, partition_of, write_events

NOW = datetime.now(UTC).replace(microsecond=0)
KEEP = timedelta(hours=72)


def run_maintenance(dsn: str, now: datetime = NOW) -> Any:
    return maintain(dsn, KEEP, timedelta(days=30), timedelta(hours=3), now=now)


def test_history_is_partitioned_by_hour_on_plain_postgresql(database: str) -> None:
    kinds = {
        table: count(
            database,
            "SELECT count(*) FROM pg_class WHERE oid = to_regclass(%s) AND relkind = 'p'",
            table,
        )
        for table in ("telemetry", "tracking", "drone_minute_stats")
    }
    assert kinds == {"telemetry": 1, "tracking": 1, "drone_minute_stats": 1}
    indexes = count(
        database,
        "SELECT count(*) FROM pg_indexes WHERE tablename = 'telemetry'"
        " AND indexdef LIKE '%%USING brin (observed_at)%%'",
    )
    assert indexes == 1


def test_partitions_exist_ahead_of_the_clock(fresh_database: Callable[[], str]) -> None:
    dsn = fresh_database()
    later = NOW + timedelta(hours=30)  # beyond what the migration made
    report = run_maintenance(dsn, later)
    for spec in (TELEMETRY, TRACKING):
        names = partition_names(dsn, spec.table)
        ahead = [spec.name_of(spec.start_of(later) + i * spec.width) for i in range(4)]
        assert set(ahead) <= set(names), (ahead, names)
        assert set(ahead) <= set(report.created)
    assert MINUTE_STATS.name_of(MINUTE_STATS.start_of(later)) in partition_names(
        dsn, "drone_minute_stats"
    )
    assert run_maintenance(dsn, later).created == []  # idempotent


def test_a_fix_lands_in_its_hours_partition_made_on_demand(
    fresh_database: Callable[[], str],
) -> None:
    dsn = fresh_database()
    old = NOW - timedelta(days=2, minutes=17)  # no partition for it yet
    assert TELEMETRY.name_of(TELEMETRY.start_of(old)) not in partition_names(dsn, "telemetry")
    write_events(
        dsn,
        [
            fix("drone-p", 1, old),
            fix("drone-p", 2, NOW),
            tracking("dp", 1, old),
        ],
    )
    assert partition_of(dsn, "telemetry", "sequence = 1") == [
        TELEMETRY.name_of(TELEMETRY.start_of(old))
    ]
    assert partition_of(dsn, "telemetry", "sequence = 2") == [
        TELEMETRY.name_of(TELEMETRY.start_of(NOW))
    ]
    assert partition_of(dsn, "tracking", "true") == [TRACKING.name_of(TRACKING.start_of(old))]
    assert count(dsn, "SELECT count(*) FROM telemetry_default") == 0


def test_retention_drops_whole_partitions_older_than_the_setting(
    fresh_database: Callable[[], str],
) -> None:
    dsn = fresh_database()
    expired, kept = NOW - timedelta(days=5), NOW - timedelta(days=2)
    write_events(dsn, [fix("drone-r", 1, expired), fix("drone-r", 2, kept), fix("drone-r", 3, NOW)])
    with psycopg.connect(dsn) as conn:  # written by hand: lands in the DEFAULT partition
        conn.execute(
            "INSERT INTO telemetry SELECT drone_id, 9, observed_at - INTERVAL '1 day', recorded_at,"
            " 'by-hand', delivery_id, lat, lon, altitude_m, ground_speed_mps, heading_deg,"
            " battery_pct, phase FROM telemetry WHERE sequence = 1"
        )
    assert partition_of(dsn, "telemetry", "sequence = 9") == ["telemetry_default"]

    report = run_maintenance(dsn)

    gone = TELEMETRY.name_of(TELEMETRY.start_of(expired))
    assert gone in report.dropped
    assert gone not in partition_names(dsn, "telemetry")
    assert TELEMETRY.name_of(TELEMETRY.start_of(kept)) in partition_names(dsn, "telemetry")
    assert report.default_rows_deleted == 1
    assert count(dsn, "SELECT count(*) FROM telemetry") == 2
    assert count(dsn, "SELECT count(*) FROM drone_latest_view WHERE drone_id = 'drone-r'") == 1


def test_retention_counts_from_the_newest_history_not_the_clock_alone(
    fresh_database: Callable[[], str],
) -> None:
    """A sink stopped for a week must not drop everything when it starts again."""
    dsn = fresh_database()
    last_week = NOW - timedelta(days=7)
    write_events(
        dsn, [fix("drone-w", 1, last_week - timedelta(hours=1)), fix("drone-w", 2, last_week)]
    )
    assert run_maintenance(dsn).dropped == []
    assert count(dsn, "SELECT count(*) FROM telemetry") == 2


def test_the_rollup_re_aggregates_only_the_minutes_the_sink_wrote(
    fresh_database: Callable[[], str],
) -> None:
    dsn = fresh_database()
    minute_a = TELEMETRY.start_of(NOW) + timedelta(minutes=1)
    minute_b = minute_a + timedelta(minutes=1)
    write_events(dsn, [fix("drone-m", s, minute_a + timedelta(seconds=s)) for s in (1, 2, 3)])
    refresh_rollups(dsn)
    stats = "SELECT fixes FROM drone_minute_stats_view WHERE drone_id = 'drone-m' AND minute = %s"
    assert count(dsn, stats, minute_a) == 3
    with psycopg.connect(dsn) as conn:  # by hand into minute A: noted by nobody
        conn.execute(
            "INSERT INTO telemetry SELECT drone_id, 10, observed_at + INTERVAL '10 seconds',"
            " recorded_at, 'by-hand', delivery_id, lat, lon, altitude_m, ground_speed_mps,"
            " heading_deg, battery_pct, phase FROM telemetry WHERE sequence = 3"
        )
    write_events(dsn, [fix("drone-m", 20, minute_b + timedelta(seconds=5))])

    refresh_rollups(dsn)

    assert count(dsn, stats, minute_a) == 3  # not re-aggregated: no fix of the sink's in it
    assert count(dsn, stats, minute_b) == 1
    assert count(dsn, "SELECT count(*) FROM drone_minute_pending") == 0
    write_events(dsn, [fix("drone-m", 4, minute_a + timedelta(seconds=30))])  # a late fix
    refresh_rollups(dsn)
    assert count(dsn, stats, minute_a) == 5  # the whole minute again, the hand-made row too
    refresh_rollups(dsn, full=True)
    assert count(dsn, "SELECT sum(fixes) FROM drone_minute_stats_view") == 6


@pytest.fixture
def database_before_0070(running_stack: StackSettings) -> Iterator[str]:
    """A database migrated up to 0060 only (what a deployment ran before issue 18)."""
    node = PostgresNode(running_stack)
    name = f"test_before_0070_{NOW:%H%M%S}"
    node.drop_database(name)
    node.ensure_database(name)
    dsn = running_stack.dsn_for(name)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        for version, file_name, text in available():
            if version < 70:
                with conn.transaction():
                    conn.execute(text)  # type: ignore[arg-type]
                    conn.execute(
                        "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                        (version, file_name),
                    )
    yield dsn
    node.drop_database(name)


def view_rows(dsn: str) -> dict[str, dict[str, list[Any]]]:
    """Every contract view's columns, each a list of its values in a sorted row order."""
    with psycopg.connect(dsn) as conn:
        names = [
            str(r[0])
            for r in conn.execute(
                "SELECT viewname FROM pg_views WHERE schemaname = current_schema()"
                " AND viewname LIKE '%\\_view' ORDER BY 1"
            )
        ]
        views = {}
        for name in names:
            cursor = conn.execute(f"SELECT * FROM {name}")
            columns = [column.name for column in cursor.description or ()]
            rows = sorted(cursor.fetchall(), key=repr)
            views[name] = {c: [row[i] for row in rows] for i, c in enumerate(columns)}
        return views


def same_columns(before: dict[str, list[Any]], after: dict[str, list[Any]]) -> dict[str, Any]:
    """`after` restricted to the columns `before` had, its rows in `before`'s sort order.

    Later migrations may add columns to a view (0085 gives `delivery_track_view` the
    ETA's window): the rows the view had must stay, column for column.
    """
    rows = sorted(zip(*(after[c] for c in before), strict=True), key=repr)
    return {c: [row[i] for row in rows] for i, c in enumerate(before)}


def test_the_migration_converts_a_database_with_history_keeping_every_row(
    database_before_0070: str,
) -> None:
    dsn = database_before_0070
    with psycopg.connect(dsn, autocommit=True) as conn:
        # only the tables of 0060: no delivery_current (0075), no webhook endpoints (0080)
        older = (placed for placed in ds.rows() if placed[0] != WEBHOOK_ENDPOINT_EVENTS)
        conn.execute(ds.as_sql(older, delivery_current=False, eta_window=False))  # type: ignore[arg-type]
    refresh_rollups(dsn)
    before = view_rows(dsn)
    fixes = count(dsn, "SELECT count(*) FROM telemetry")
    assert fixes > 0 and before["drone_minute_stats_view"]

    assert migrate(dsn)[0] == "0070_time_partitions.sql"  # and the later ones

    assert (
        count(dsn, "SELECT count(*) FROM pg_class WHERE relname = 'telemetry' AND relkind = 'p'")
        == 1
    )
    assert partition_of(dsn, "telemetry", "true") == ["telemetry_before_0070"]
    assert count(dsn, "SELECT count(*) FROM telemetry") == fixes
    refresh_rollups(dsn)
    after = view_rows(dsn)  # later migrations may add views: compare those of before
    assert {name: same_columns(before[name], after[name]) for name in before} == before
    # The old table holds up to the end of the hour the migration ran in (or of its
    # newest row); from then on the sink writes into hourly partitions. The bound is read
    # back from the catalog: the migration's clock, not this module's `NOW`, which was
    # taken when the tests were collected, maybe an hour before this test runs.
    with psycopg.connect(dsn) as conn:
        bound_sql = conn.execute(
            "SELECT pg_get_expr(relpartbound, oid) FROM pg_class"
            " WHERE relname = 'telemetry_before_0070'"
        ).fetchone()
    assert bound_sql is not None and "MINVALUE" in bound_sql[0], bound_sql
    bound = datetime.fromisoformat(bound_sql[0].rsplit("'", 2)[-2])
    assert bound == TELEMETRY.start_of(bound) and bound > NOW, bound_sql[0]
    next_hour = bound + timedelta(minutes=1)
    write_events(
        dsn, [fix("drone-new", 1, bound - timedelta(minutes=1)), fix("drone-new", 2, next_hour)]
    )
    assert partition_of(dsn, "telemetry", "drone_id = 'drone-new' AND sequence = 1") == [
        "telemetry_before_0070"
    ]
    assert partition_of(dsn, "telemetry", "drone_id = 'drone-new' AND sequence = 2") == [
        TELEMETRY.name_of(TELEMETRY.start_of(next_hour))
    ]
