"""What each view of the read contract means, on a hand-made data set with known answers.

`tests.support.projection_dataset` is loaded into a fresh database (twice: loads are idempotent)
and the roll-ups are refreshed the way the sink does it; every number below was worked
out by hand from the data set's docstring. docs/views.md documents the same contract.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import psycopg
import pytest

from projections.migrate import available
from projections.rollups import refresh_rollups
from tests.support import projection_dataset as ds
from tests.support.projection_dataset import at


@pytest.fixture(scope="module")
def dsn(fresh_database: Callable[[], str]) -> str:
    dsn = fresh_database()
    data = ds.as_sql(ds.rows())
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(data)  # type: ignore[arg-type]
        conn.execute(data)  # type: ignore[arg-type]
    refresh_rollups(dsn)
    return dsn


def query(dsn: str, sql: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(sql).fetchall()  # type: ignore[arg-type]


def test_the_later_migrations_can_run_twice(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        for version, _, text in available():
            if version >= 2:
                conn.execute(text)  # type: ignore[arg-type]
    assert query(dsn, "SELECT count(*) FROM drone_minute_stats_view") == [(4,)]


def test_plain_postgresql_gets_an_incremental_minute_rollup_and_a_materialized_one(
    dsn: str,
) -> None:
    assert query(dsn, "SELECT matviewname FROM pg_matviews ORDER BY 1") == [
        ("delivery_hourly_outcomes",),
    ]
    # since 0070 a table partitioned by day, re-aggregated minute by minute
    assert query(dsn, "SELECT relkind FROM pg_class WHERE relname = 'drone_minute_stats'") == [
        ("p",)
    ]
    assert refresh_rollups(dsn) == ["delivery_hourly_outcomes", "drone_minute_stats"]


def test_drone_minute_stats_view(dsn: str) -> None:
    rows = query(
        dsn,
        "SELECT drone_id, minute, fixes, avg_speed_mps, max_speed_mps, min_battery_pct,"
        " max_battery_pct, first_fix_at, last_fix_at, est_distance_m"
        " FROM drone_minute_stats_view ORDER BY drone_id, minute",
    )
    assert rows == [
        # 10, 12, 14 m/s over 40 s: avg 12, distance 12 * 40 = 480 m.
        ("drone-a", at(0), 3, 12.0, 14.0, 89.0, 90.0, at(0), at(2 / 3), 480.0),
        # 8 and 0 m/s over 30 s: avg 4, distance 4 * 30 = 120 m.
        ("drone-a", at(1), 2, 4.0, 8.0, 87.5, 88.0, at(1), at(1.5), 120.0),
        # A single fix spans no time: no distance.
        ("drone-b", at(0), 1, 0.0, 0.0, 100.0, 100.0, at(0.5), at(0.5), 0.0),
        ("drone-b", at(65), 1, 5.0, 5.0, 70.0, 70.0, at(65), at(65), 0.0),
    ]


def test_delivery_hourly_outcomes_view(dsn: str) -> None:
    rows = query(dsn, "SELECT * FROM delivery_hourly_outcomes_view ORDER BY hour")
    assert rows == [
        # d1 (10 min), d2 (20 min) delivered; d3 requested, never assigned (cancelled).
        (at(0), 3, 2, 2, 15.0, 20.0),
        # d4 requested 13:15, delivered 13:20.
        (at(60), 1, 1, 1, 5.0, 5.0),
    ]


def test_delivery_status_view(dsn: str) -> None:
    rows = query(
        dsn,
        "SELECT delivery_id, status, drone_id, requested_at, delivered_at, remaining_m,"
        " latest_fix_at, version FROM delivery_status_view ORDER BY delivery_id",
    )
    assert rows == [
        ("d1", "delivered", "drone-a", at(0), at(10), 0.0, at(10), 4),
        ("d2", "delivered", "drone-c", at(30), at(50), None, None, 4),
        ("d3", "cancelled", None, at(45), None, None, None, 2),
        ("d4", "delivered", "drone-b", at(75), at(80), None, None, 4),
    ]


def test_delivery_reasons_view(dsn: str) -> None:
    rows = query(dsn, "SELECT * FROM delivery_reasons_view ORDER BY delivery_id, sequence")
    assert rows == [("d3", 2, "cancelled", at(50), "no longer needed")]


def test_delivery_track_view(dsn: str) -> None:
    rows = query(
        dsn,
        "SELECT delivery_id, sequence, status, remaining_m, eta FROM delivery_track_view"
        " ORDER BY observed_at",
    )
    assert rows == [
        ("d1", 1, "en_route_to_dropoff", 600.0, at(10)),
        ("d1", 2, "en_route_to_dropoff", 400.0, at(9.5)),
        ("d1", 3, "delivered", 0.0, None),
    ]


def test_delivery_telemetry_view_keeps_only_fixes_on_a_delivery(dsn: str) -> None:
    rows = query(
        dsn, "SELECT delivery_id, drone_id, sequence FROM delivery_telemetry_view ORDER BY sequence"
    )
    assert rows == [("d1", "drone-a", seq) for seq in range(1, 6)]


def test_drone_latest_view(dsn: str) -> None:
    rows = query(
        dsn,
        "SELECT drone_id, observed_at, battery_pct, phase, delivery_id FROM drone_latest_view"
        " ORDER BY drone_id",
    )
    assert rows == [
        ("drone-a", at(1.5), 87.5, "to_dropoff", "d1"),
        ("drone-b", at(65), 70.0, "to_pickup", None),
    ]


def test_airspace_view_is_the_version_in_force(dsn: str) -> None:
    rows = query(
        dsn,
        "SELECT airspace_id, version, name, published_at, range_m, zones, depots, service_area"
        " FROM airspace_view",
    )
    assert len(rows) == 1
    airspace_id, version, name, published_at, range_m, zones, depots, area = rows[0]
    assert (airspace_id, version, name, published_at, range_m) == (
        "platform",
        2,
        "zurich",
        at(-30),
        15_000.0,
    )
    assert [zone["name"] for zone in zones] == ["lake"]
    assert zones[0]["boundary"][0] == {"lat": 47.35, "lon": 8.54}
    assert [depot["name"] for depot in depots] == ["Hauptbahnhof", "Seefeld"]
    assert depots[0]["position"] == {"lat": 47.378, "lon": 8.54}
    assert len(area) == 3


def test_dead_letter_counts_view(dsn: str) -> None:
    rows = query(dsn, "SELECT * FROM dead_letter_counts_view ORDER BY reason")
    assert rows == [
        ("illegal_transition", "deliveries", "deliveries", 1, at(4), at(4)),
        ("out_of_range", "validate-telemetry", "telemetry", 2, at(1), at(2)),
        ("undecodable", "validate-telemetry", "telemetry", 1, at(3), at(3)),
    ]


def test_dead_letters_view(dsn: str) -> None:
    rows = query(
        dsn,
        "SELECT source_topic, source_partition, source_offset, processor, reason, detail,"
        " refused_at, key, value FROM dead_letters_view ORDER BY refused_at LIMIT 1",
    )
    assert rows == [
        (
            "telemetry",
            0,
            10,
            "validate-telemetry",
            "out_of_range",
            "out_of_range at offset 10",
            at(1),
            b"k",
            b'{"bad": true}',
        )
    ]


def test_views_read_utc_instants_whatever_the_session_time_zone(dsn: str) -> None:
    """Buckets are UTC (date_bin/time_bucket), not the session's local hours."""
    with psycopg.connect(dsn, options="-c TimeZone=Asia/Kolkata") as conn:
        hours: list[tuple[datetime]] = conn.execute(
            "SELECT hour FROM delivery_hourly_outcomes_view ORDER BY hour"
        ).fetchall()
    assert [h for (h,) in hours] == [at(0), at(60)]
