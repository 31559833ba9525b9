"""History benchmark (issue 18, part 5): every reader's query against the length of the history.

What it does, for each N of `--fixes` (default 0 and 10 million), in a database of its
own on the local server (`--database`, default `dronefleet_history`, created migrated
and dropped again, so the shared one stays small):

1. Fills the read models with N fixes of `--drones` drones at 1 Hz (default 10,000,
   the issue's fleet), ending five minutes past the start of an hour (so the history
   spans two hourly partitions and retention has one to drop): each drone flies a
   13-minute mission cycle (5 min charging at a depot, 2 to the pickup, 4 to the
   drop-off, 2 back), so 46 % of its fixes are on a delivery, with the tracking update
   of each such fix and the delivery's four events (request, assignment, pickup,
   drop-off, with a business and coordinates in the payload as the API writes them).
   N = 0 is the fleet's first fix and nothing else (one fix per drone: an empty fleet
   answers no fleet query). The equivalent of the sink's COPY: rows generated on the
   server (`INSERT ... SELECT generate_series`, in time order like a live feed) into
   the same partitioned tables, with the partitions made by `projections.partitions`,
   `drone_latest` filled from the last second, the roll-up re-aggregated once
   (`refresh --full`, timed: it is what every refresh cost before 0070), then VACUUM
   ANALYZE (what autovacuum would have done). Why not the sink itself: decoding 10
   million events in Python takes longer than the whole measurement; the sink's own
   writer is measured in step 4, on top of that history.
2. Disk: bytes of `telemetry` and `tracking` (heap, indexes, TOAST of every partition)
   per million fixes.
3. Every query the API, the fleet socket, the dashboard and the notebooks make, and
   the analysts' typical ones (docs/views.md), `--repeat` times each (`--heavy-repeat`
   for the notebooks' whole-history ones): p50 and p99 in ms, rows fetched.
4. The sink's rows/s while queries run: the sink's own `PostgresWriter` (binary COPY,
   `drone_latest` upsert, the roll-up's minute notes, the partition check, checkpoints)
   writes batches of `batch_max_rows` fixes of the fleet for `--sink-seconds` while
   another connection runs the operators' queries in a loop.
5. The roll-up refresh: 30 s of the fleet's fixes written by the writer, then
   `refresh_rollups` (incremental: only those minutes), three times; p50.
6. Retention: `projections.partitions.maintain` with a 30-minute retention (the
   setting's default is 72 h; the history here is shorter): what it drops (the older
   of the history's two hourly partitions), rows and bytes, and how long it takes.

Run from the repository root with the stack up:
`python benchmarks/history_bench.py [--fixes 0 10000000] [--out benchmarks/results/...]`.
One JSON line per N on stdout (and per N in `--out`), then a summary line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import statistics
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from aiokafka.structs import TopicPartition

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dashboard.queries import ETA_ACCURACY, IN_FLIGHT
from dashboard.settings import DashboardSettings
from devstack.postgres import PostgresNode
from devstack.settings import StackSettings
from projections.migrate import migrate
from projections.partitions import TELEMETRY as TELEMETRY_PARTS
from projections.partitions import TRACKING as TRACKING_PARTS
from projections.partitions import ensure, maintain, partitions
from projections.rollups import refresh_minute_stats, refresh_rollups
from projections.rows import EVENTS_FOLD, TELEMETRY, TRACKING_UPSERT, TableLayout
from projections.settings import ProjectionsSettings
from projections.sink import PostgresWriter, SinkStats

CYCLE_S = (
    780  # a mission cycle: 300 s at the depot, 120 to the pickup, 240 to the drop-off, 120 back
)
Conn = psycopg.Connection[tuple[object, ...]]

# One slice of the fleet's history: seconds [%(s0)s, %(s1)s) of every drone, in time order.
FILL_TELEMETRY = """
INSERT INTO telemetry (drone_id, sequence, observed_at, recorded_at, event_id, delivery_id,
                       lat, lon, altitude_m, ground_speed_mps, heading_deg, battery_pct, phase)
SELECT 'drone-' || lpad(d::text, 5, '0'), s + 1, ts, ts, 'f-' || d || '-' || s,
       CASE WHEN pos >= 300 AND pos < 660 THEN 'del-' || d || '-' || k END,
       47.30 + (d %% 100) * 0.002 + pos * 1e-5, 8.45 + (d / 100) * 0.002 + pos * 1e-5,
       CASE WHEN pos < 300 THEN 0 ELSE 60 END, CASE WHEN pos < 300 THEN 0 ELSE 15 END,
       (pos * 7) %% 360, CASE WHEN pos < 300 THEN 60 + pos * 0.13 ELSE 99 - (pos - 300) * 0.08 END,
       CASE WHEN pos < 300 THEN 'idle' WHEN pos < 420 THEN 'to_pickup'
            WHEN pos < 660 THEN 'to_dropoff' ELSE 'returning' END
FROM generate_series(%(s0)s, %(s1)s - 1) AS s
CROSS JOIN generate_series(0, %(drones)s - 1) AS d
CROSS JOIN LATERAL (SELECT %(start)s::timestamptz + s * INTERVAL '1 second' AS ts,
                           (s + (d * 7919) %% 780) %% 780 AS pos,
                           (s + (d * 7919) %% 780) / 780 AS k) AS x
"""
FILL_TRACKING = """
INSERT INTO tracking (delivery_id, sequence, observed_at, event_id, source_event_id, drone_id,
                      lat, lon, altitude_m, ground_speed_mps, status, remaining_m, eta)
SELECT 'del-' || d || '-' || k, pos - 299, ts, 't-' || d || '-' || s, 'f-' || d || '-' || s,
       'drone-' || lpad(d::text, 5, '0'),
       47.30 + (d %% 100) * 0.002 + pos * 1e-5, 8.45 + (d / 100) * 0.002 + pos * 1e-5, 60, 15,
       CASE WHEN pos < 420 THEN 'assigned' ELSE 'picked_up' END, (660 - pos) * 15.0,
       ts + (660 - pos + (d %% 7) - 3) * INTERVAL '1 second'
FROM generate_series(%(s0)s, %(s1)s - 1) AS s
CROSS JOIN generate_series(0, %(drones)s - 1) AS d
CROSS JOIN LATERAL (SELECT %(start)s::timestamptz + s * INTERVAL '1 second' AS ts,
                           (s + (d * 7919) %% 780) %% 780 AS pos,
                           (s + (d * 7919) %% 780) / 780 AS k) AS x
WHERE pos >= 300 AND pos < 660
"""
# Every delivery whose mission overlaps the history: its events up to the history's end.
FILL_EVENTS = """
INSERT INTO delivery_events (delivery_id, sequence, event_id, event_type, occurred_at,
                             recorded_at, drone_id, payload)
SELECT 'del-' || d || '-' || k, e.seq, 'ev-' || d || '-' || k || '-' || e.seq, e.kind, at, at,
       CASE WHEN e.seq > 1 THEN 'drone-' || lpad(d::text, 5, '0') END,
       jsonb_build_object('event_type', e.kind, 'delivery_id', 'del-' || d || '-' || k,
                          'business_id', 'biz-' || (d %% 50),
                          'pickup', jsonb_build_object('lat', 47.31, 'lon', 8.46),
                          'dropoff', jsonb_build_object('lat', 47.33, 'lon', 8.48))
FROM generate_series(0, %(drones)s - 1) AS d
CROSS JOIN generate_series(0, %(cycles)s) AS k
CROSS JOIN (VALUES (1, 'DeliveryRequested', 270), (2, 'DroneAssigned', 300),
                   (3, 'PickedUp', 420), (4, 'Delivered', 660)) AS e(seq, kind, offset_s)
CROSS JOIN LATERAL (SELECT %(start)s::timestamptz
                           + (k * 780 - (d * 7919) %% 780 + e.offset_s) * INTERVAL '1 second' AS at,
                           %(start)s::timestamptz
                           + (k * 780 - (d * 7919) %% 780 + 660) * INTERVAL '1 second' AS done) AS x
WHERE done >= %(start)s AND at < %(end)s
"""
LATEST = """
INSERT INTO drone_latest SELECT * FROM telemetry WHERE observed_at >= %(last)s
ON CONFLICT (drone_id) DO NOTHING
"""
# `delivery_current` as the sink leaves it: its own two statements over every delivery
# (what migration 0075's backfill does), not one batch's.
CURRENT_FOLD = EVENTS_FOLD.format(deliveries="(SELECT DISTINCT delivery_id FROM delivery_events) d")
CURRENT_TRACKING = TRACKING_UPSERT.format(
    updates="(SELECT DISTINCT ON (delivery_id) delivery_id, eta, lat, lon, remaining_m,"
    " observed_at, sequence FROM tracking ORDER BY delivery_id, observed_at DESC, sequence DESC) u"
)


def queries(
    day: datetime, drone: str, delivery: str, business: str
) -> list[tuple[str, str, str, tuple[Any, ...]]]:
    """(reader, name, SQL, parameters) of every query measured: the readers' own texts."""
    day_end = day + timedelta(days=1)
    return [
        # the operators' (REST /v1/fleet/*, api/queries.py) and the fleet socket's snapshot
        (
            "operator",
            "fleet page",
            "SELECT * FROM drone_latest_view ORDER BY drone_id LIMIT %s",
            (100,),
        ),
        (
            "operator",
            "fleet page, deep",
            "SELECT * FROM drone_latest_view WHERE drone_id > %s ORDER BY drone_id LIMIT %s",
            ("drone-09000", 100),
        ),
        ("operator", "one drone", "SELECT * FROM drone_latest_view WHERE drone_id = %s", (drone,)),
        ("operator", "fleet summary", FLEET_SUMMARY, (30.0,)),
        (
            "operator",
            "in-flight deliveries (dashboard: the soonest page and the count)",
            IN_FLIGHT,
            (DashboardSettings.model_fields["in_flight_shown"].default,),
        ),
        (
            "socket",
            "fleet socket snapshot / dashboard map",
            (
                "SELECT drone_id, observed_at, lat, lon, altitude_m, ground_speed_mps, "
                "heading_deg, "
                "battery_pct, phase, delivery_id FROM drone_latest_view ORDER BY drone_id"
            ),
            (),
        ),
        # the customers' and businesses' (REST /v1/deliveries/*)
        (
            "api",
            "delivery status",
            "SELECT * FROM delivery_status_view WHERE delivery_id = %s",
            (delivery,),
        ),
        (
            "api",
            "delivery latest update",
            (
                "SELECT * FROM delivery_track_view WHERE delivery_id = %s ORDER BY sequence DESC "
                "LIMIT 1"
            ),
            (delivery,),
        ),
        (
            "api",
            "delivery track",
            (
                "SELECT sequence, observed_at, lat, lon FROM delivery_track_view WHERE "
                "delivery_id = "
                "%s ORDER BY sequence"
            ),
            (delivery,),
        ),
        (
            "api",
            "delivery reason",
            (
                "SELECT status, reason FROM delivery_reasons_view WHERE delivery_id = %s ORDER BY "
                "sequence DESC LIMIT 1"
            ),
            (delivery,),
        ),
        (
            "api",
            "delivery history events",
            (
                "SELECT e.*, r.reason FROM delivery_events_view e LEFT JOIN "
                "delivery_reasons_view r "
                "USING (delivery_id, sequence) WHERE e.delivery_id = %s ORDER BY e.sequence"
            ),
            (delivery,),
        ),
        (
            "api",
            "business deliveries page",
            (
                "SELECT delivery_id FROM business_deliveries_view WHERE business_id = %s ORDER BY "
                "requested_at DESC, delivery_id DESC LIMIT %s"
            ),
            (business, 50),
        ),
        (
            "api",
            "waiting line (per API process, every 5 s)",
            (
                "SELECT delivery_id FROM delivery_status_view WHERE status IN ('requested', "
                "'rescheduled') ORDER BY requested_at, delivery_id"
            ),
            (),
        ),
        # the dashboard's (dashboard/queries.py)
        ("dashboard", "day outcomes", DAY_OUTCOMES, (day, day_end)),
        ("dashboard", "ETA error by lead time (a day)", ETA_ERROR_DAY, (30, day, day_end)),
        ("dashboard", "ETA accuracy table (a day, issue 19)", ETA_ACCURACY, (day,)),
        (
            "dashboard",
            "dead letters",
            (
                "SELECT reason, sum(records)::bigint AS records, max(last_refused_at) FROM "
                "dead_letter_counts_view GROUP BY reason ORDER BY records DESC, reason"
            ),
            (),
        ),
        (
            "dashboard",
            "recent deliveries",
            (
                "SELECT delivery_id FROM delivery_timeline_view WHERE requested_at >= %s AND "
                "requested_at < %s ORDER BY requested_at DESC, delivery_id LIMIT %s"
            ),
            (day, day_end, 50),
        ),
        (
            "dashboard",
            "delivery detail track",
            (
                "SELECT sequence, observed_at, drone_id, lat, lon, altitude_m, ground_speed_mps, "
                "status, remaining_m, eta FROM delivery_track_view WHERE delivery_id = %s ORDER BY "
                "observed_at, sequence"
            ),
            (delivery,),
        ),
        (
            "dashboard",
            "airspace",
            "SELECT name, zones, depots, service_area FROM airspace_view",
            (),
        ),
        # the analysts' typical questions (docs/views.md)
        (
            "analyst",
            "one drone's day (minutes)",
            (
                "SELECT * FROM drone_minute_stats_view WHERE drone_id = %s AND minute >= %s AND "
                "minute < %s ORDER BY minute"
            ),
            (drone, day, day_end),
        ),
        (
            "analyst",
            "one drone's day (hours busy)",
            (
                "SELECT * FROM drone_hourly_utilization_view WHERE drone_id = %s AND hour "
                ">= %s AND "
                "hour < %s ORDER BY hour"
            ),
            (drone, day, day_end),
        ),
        (
            "analyst",
            "one delivery's track and ETAs",
            (
                "SELECT t.observed_at, t.lat, t.lon, t.eta, e.error_s FROM "
                "delivery_track_view t LEFT "
                "JOIN delivery_eta_error_view e USING (delivery_id, sequence) WHERE "
                "t.delivery_id = "
                "%s ORDER BY t.sequence"
            ),
            (delivery,),
        ),
        (
            "analyst",
            "one delivery's fixes",
            (
                "SELECT observed_at, lat, lon, phase, battery_pct FROM "
                "delivery_telemetry_view WHERE "
                "delivery_id = %s ORDER BY observed_at"
            ),
            (delivery,),
        ),
        (
            "analyst",
            "outcomes per hour (a day)",
            (
                "SELECT * FROM delivery_hourly_outcomes_view WHERE hour >= %s AND hour < "
                "%s ORDER BY "
                "hour"
            ),
            (day, day_end),
        ),
        (
            "analyst",
            "fleet minutes of one hour",
            (
                "SELECT minute, sum(fixes), avg(avg_speed_mps) FROM drone_minute_stats_view WHERE "
                "minute >= %s AND minute < %s GROUP BY 1 ORDER BY 1"
            ),
            (day, day + timedelta(hours=1)),
        ),
    ]


NOTEBOOK_QUERIES = [
    # notebooks/*.ipynb: whole-history questions, O(history kept)
    (
        "notebook",
        "timeline of every delivery",
        (
            "SELECT delivery_id, requested_at, assigned_at, picked_up_at, delivered_at, "
            "cancelled_at, "
            "failed_at, assignments, promised_at, promised_eta, seconds_to_deliver, "
            "late_s, on_time "
            "FROM delivery_timeline_view ORDER BY requested_at"
        ),
        (),
    ),
    (
        "notebook",
        "ETA error per lead time (all)",
        (
            "SELECT floor(lead_s / 60)::int AS lead_min, count(*), percentile_cont(0.5) "
            "WITHIN GROUP "
            "(ORDER BY abs(error_s)), percentile_cont(0.9) WITHIN GROUP (ORDER BY abs(error_s)), "
            "avg(error_s) FROM delivery_eta_error_view GROUP BY 1 ORDER BY 1"
        ),
        (),
    ),
    (
        "notebook",
        "utilization per drone (all)",
        (
            "SELECT drone_id, sum(busy_fixes)::float8 / sum(fixes), sum(fixes) FROM "
            "drone_hourly_utilization_view GROUP BY drone_id ORDER BY 2 DESC, drone_id"
        ),
        (),
    ),
    (
        "notebook",
        "battery per drone (all)",
        (
            "SELECT drone_id, equivalent_cycles, charges, discharged_pct, charged_pct, "
            "min_battery_pct FROM drone_battery_view ORDER BY equivalent_cycles DESC, drone_id"
        ),
        (),
    ),
]

FLEET_SUMMARY = (
    "WITH d AS MATERIALIZED (SELECT * FROM drone_latest_view)"
    " SELECT count(*) AS drones, count(*) FILTER (WHERE delivery_id IS NOT NULL) AS on_delivery,"
    " count(*) FILTER (WHERE observed_at < now() - make_interval(secs => %s)) AS silent,"
    " min(battery_pct), avg(battery_pct), max(battery_pct),"
    " count(*) FILTER (WHERE battery_pct < 20), count(*) FILTER (WHERE battery_pct >= 80),"
    " max(observed_at) AS latest_fix_at,"
    " (SELECT coalesce(jsonb_object_agg(phase, n), '{}'::jsonb)"
    "  FROM (SELECT phase, count(*) AS n FROM d GROUP BY phase) p) AS by_phase FROM d"
)
DAY_OUTCOMES = (
    "SELECT count(*), count(assigned_at), count(delivered_at), count(cancelled_at),"
    " count(*) FILTER (WHERE delivered_at IS NULL AND cancelled_at IS NULL AND failed_at IS NULL),"
    " count(*) FILTER (WHERE on_time), count(on_time),"
    " avg(seconds_to_deliver) / 60.0,"
    " percentile_cont(0.9) WITHIN GROUP (ORDER BY seconds_to_deliver) / 60.0"
    " FROM delivery_timeline_view WHERE requested_at >= %s AND requested_at < %s"
)
ETA_ERROR_DAY = (
    "SELECT least(floor(lead_s / 60), %s)::int AS lead_min, count(*),"
    " percentile_cont(0.5) WITHIN GROUP (ORDER BY abs(error_s)),"
    " percentile_cont(0.9) WITHIN GROUP (ORDER BY abs(error_s)), avg(error_s)"
    " FROM delivery_eta_error_view WHERE delivered_at >= %s AND delivered_at < %s"
    " GROUP BY 1 ORDER BY 1"
)


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile: the ceil(share * n)-th smallest (p99 of 100 runs is the
    99th, of 30 the slowest).

    (Until 2026-12-06 the rank was `round(share * n + 0.5)`, which Python's rounding to
    even made the 100th of 100: the slowest run, reported as p99.)
    """
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, math.ceil(share * len(ordered) - 1e-9) - 1))
    return ordered[rank]


def timed(
    conn: Conn, sql: str, params: tuple[Any, ...], repeat: int, budget_s: float = float("inf")
) -> tuple[list[float], int]:
    """Milliseconds of each run (rows fetched), and the rows of the last one.

    Stops after `repeat` runs, or once `budget_s` is spent and at least 3 ran (a
    multi-second query then gives 3 to 5 runs, and its "p99" is their slowest).
    """
    times: list[float] = []
    rows = 0
    while len(times) < repeat and (len(times) < 3 or sum(times) / 1000 < budget_s):
        started = time.perf_counter()
        rows = len(conn.execute(sql, params).fetchall())
        times.append((time.perf_counter() - started) * 1000)
    return times, rows


def history_window(fixes: int, drones: int) -> tuple[datetime, datetime, int]:
    """(start, end, seconds): the history ends 5 min past an hour, at least 6 min ago."""
    seconds = max(1, fixes // drones)
    now = datetime.now(UTC)
    end = TELEMETRY_PARTS.start_of(now - timedelta(minutes=6)) + timedelta(minutes=5)
    return end - timedelta(seconds=seconds), end, seconds


def fill(dsn: str, fixes: int, drones: int, log: Callable[[str], None]) -> dict[str, Any]:
    """Fill telemetry, tracking, delivery events, drone_latest and delivery_current.

    Returns what it took.
    """
    start, end, seconds = history_window(fixes, drones)
    started = time.perf_counter()
    with psycopg.connect(dsn, autocommit=True) as conn:
        hours = {
            TELEMETRY_PARTS.start_of(start + timedelta(seconds=s)) for s in range(0, seconds, 600)
        }
        hours.add(TELEMETRY_PARTS.start_of(end - timedelta(seconds=1)))
        with conn.transaction():
            ensure(conn, TELEMETRY_PARTS, hours)
            ensure(conn, TRACKING_PARTS, hours)
        step = max(1, 500_000 // drones)
        for s0 in range(0, seconds, step):
            s1 = min(seconds, s0 + step)
            params = {"s0": s0, "s1": s1, "drones": drones, "start": start}
            conn.execute(FILL_TELEMETRY, params)
            conn.execute(FILL_TRACKING, params)
            if s0 // step % 10 == 0:
                log(f"  filled {s1 * drones:,} fixes ({time.perf_counter() - started:.0f} s)")
        if fixes > drones:
            conn.execute(
                FILL_EVENTS,
                {"drones": drones, "cycles": seconds // CYCLE_S + 1, "start": start, "end": end},
            )
        conn.execute(LATEST, {"last": end - timedelta(seconds=1)})
        conn.execute(CURRENT_FOLD)
        conn.execute(CURRENT_TRACKING)
        fill_s = time.perf_counter() - started
        refresh_started = time.perf_counter()
        refresh_rollups(dsn, full=True)
        full_refresh_s = time.perf_counter() - refresh_started
        conn.execute("VACUUM ANALYZE")
        counts = {
            table: int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # type: ignore[index]
            for table in (
                "telemetry",
                "tracking",
                "delivery_events",
                "drone_latest",
                "delivery_current",
                "drone_minute_stats",
            )
        }
    return {
        "history_start": start.isoformat(),
        "history_end": end.isoformat(),
        "fill_s": round(fill_s, 1),
        "full_rollup_refresh_s": round(full_refresh_s, 2),
        "rows": counts,
    }


def disk(conn: Conn) -> dict[str, int]:
    """Bytes on disk (heap, indexes, TOAST) of each partitioned table's partitions."""
    sizes = {}
    for table in (
        "telemetry",
        "tracking",
        "drone_minute_stats",
        "delivery_events",
        "drone_latest",
        "delivery_current",
    ):
        row = conn.execute(
            "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c"
            " WHERE c.oid = %s::regclass OR c.oid IN"
            " (SELECT inhrelid FROM pg_inherits WHERE inhparent = %s::regclass)",
            (table, table),
        ).fetchone()
        sizes[table] = int(str(row[0])) if row else 0
    return sizes


def fleet_rows(drones: int, rounds: int, first_second: int, at: datetime) -> list[tuple[Any, ...]]:
    """`rounds` seconds of every drone's fixes, in `TELEMETRY`'s column order."""
    rows = []
    for r in range(rounds):
        ts = at + timedelta(seconds=r)
        for d in range(drones):
            rows.append(
                (
                    f"drone-{d:05d}",
                    first_second + r + 1,
                    ts,
                    ts,
                    f"live-{d}-{first_second + r}",
                    None,
                    47.3 + d * 1e-5,
                    8.45,
                    0.0,
                    0.0,
                    0.0,
                    80.0,
                    "idle",
                )
            )
    return rows


async def write_through_sink(
    settings: ProjectionsSettings, rows: list[tuple[Any, ...]], batch: int
) -> float:
    """Write the rows through the sink's own writer in batches; return seconds taken."""
    stats = SinkStats()
    writer = PostgresWriter(settings, stats)
    partition = TopicPartition("bench-accepted-telemetry", 0)
    started = time.perf_counter()
    try:
        for i in range(0, len(rows), batch):
            chunk: dict[TableLayout, list[tuple[Any, ...]]] = {TELEMETRY: rows[i : i + batch]}
            await writer.write(chunk, {partition: i + batch})
    finally:
        await writer.close()
    return time.perf_counter() - started


def sink_under_queries(
    dsn: str,
    drones: int,
    seconds: float,
    batch: int,
    first_second: int,
    query_set: list[tuple[str, str, str, tuple[Any, ...]]],
    rounds_per_s: float,
    later_s: float = 0.0,
) -> dict[str, Any]:
    """The writer's rows/s while the operators' queries run on another connection.

    The operators' and the fleet socket's queries run `rounds_per_s` times a second (a
    few dashboards every 5 s, operators paging, sockets connecting), not flat out: on a
    2-core machine a flat-out loop measures the CPU they share, not the history.
    `rounds_per_s` 0: the writer alone. The fixes are stamped `later_s` from now, newer
    than any before, so each batch moves every drone's `drone_latest` row as live.
    """
    settings = ProjectionsSettings(database_url=dsn, batch_max_rows=batch)
    rounds = max(1, int(seconds * 60_000 / drones))  # enough rows for `seconds` at ~60k rows/s
    rows = fleet_rows(drones, rounds, first_second, datetime.now(UTC) + timedelta(seconds=later_s))
    stop = threading.Event()
    ran = [0]

    def query_loop() -> None:
        with psycopg.connect(dsn, autocommit=True) as conn:
            while not stop.is_set():
                began = time.perf_counter()
                for reader, _, sql, params in query_set:
                    if reader in ("operator", "socket"):
                        conn.execute(sql, params).fetchall()
                        ran[0] += 1
                stop.wait(max(0.0, 1 / rounds_per_s - (time.perf_counter() - began)))

    loop = threading.Thread(target=query_loop, daemon=True)
    if rounds_per_s > 0:
        loop.start()
    try:
        took = asyncio.run(write_through_sink(settings, rows, batch))
    finally:
        stop.set()
        if rounds_per_s > 0:
            loop.join()
    return {
        "sink_rows": len(rows),
        "sink_s": round(took, 2),
        "sink_rows_per_s": round(len(rows) / took),
        "query_rounds_per_s": rounds_per_s,
        "queries_meanwhile": ran[0],
    }


def incremental_refresh(dsn: str, drones: int, first_second: int, times: int = 3) -> dict[str, Any]:
    """30 s of the fleet's fixes through the writer, then each roll-up's refresh, `times` times.

    The per-minute roll-up's incremental refresh (what issue 18 asks to be independent
    of the history) and the delivery outcomes' full REFRESH (O(deliveries)) are timed
    apart; the sink runs both, one after the other.
    """
    settings = ProjectionsSettings(database_url=dsn)
    refresh_rollups(dsn)  # the minutes the sink phases wrote: not part of the measure
    minutes_ms, outcomes_ms, redone = [], [], 0
    for i in range(times):
        at = datetime.now(UTC) + timedelta(minutes=5 + i)
        rows = fleet_rows(drones, 30, first_second + 1000 * (i + 1), at)
        asyncio.run(write_through_sink(settings, rows, settings.batch_max_rows))
        with psycopg.connect(dsn, autocommit=True) as conn:
            started = time.perf_counter()
            redone = refresh_minute_stats(conn)
            minutes_ms.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            conn.execute("REFRESH MATERIALIZED VIEW CONCURRENTLY delivery_hourly_outcomes")
            outcomes_ms.append((time.perf_counter() - started) * 1000)
    return {
        "minutes_redone_last": redone,
        "minute_stats_refresh_ms": [round(t, 1) for t in minutes_ms],
        "minute_stats_refresh_p50_ms": round(statistics.median(minutes_ms), 1),
        "hourly_outcomes_refresh_ms": [round(t, 1) for t in outcomes_ms],
        "hourly_outcomes_refresh_p50_ms": round(statistics.median(outcomes_ms), 1),
    }


def retention(dsn: str, history_end: datetime) -> dict[str, Any]:
    """What `maintain` with a 30-minute retention drops here, and how long it takes.

    Its clock is set 30 minutes past the start of the history's last hour, so the
    cut-off falls on that hour's start whenever the run happens: every older hour goes.
    (Until this was so, the wall clock decided, and a run in the first half hour after
    the history's end dropped nothing: the 30-million column of issue 18's results.)
    """
    with psycopg.connect(dsn, autocommit=True) as conn:
        before_rows = int(conn.execute("SELECT count(*) FROM telemetry").fetchone()[0])  # type: ignore[index]
        before = disk(conn)
        held = sorted(partitions(conn, TELEMETRY_PARTS))
    started = time.perf_counter()
    clock = TELEMETRY_PARTS.start_of(history_end) + timedelta(minutes=30)
    report = maintain(dsn, timedelta(minutes=30), timedelta(days=30), timedelta(hours=3), clock)
    took = time.perf_counter() - started
    with psycopg.connect(dsn, autocommit=True) as conn:
        after_rows = int(conn.execute("SELECT count(*) FROM telemetry").fetchone()[0])  # type: ignore[index]
        after = disk(conn)
    return {
        "telemetry_partitions_before": held,
        "dropped": report.dropped,
        "skipped": report.skipped,
        "telemetry_rows_removed": before_rows - after_rows,
        "bytes_removed": {t: before[t] - after[t] for t in before},
        "maintain_s": round(took, 2),
    }


def fill_one(dsn: str, fixes: int, drones: int, log: Callable[[str], None]) -> dict[str, Any]:
    """Migrate and fill one database with `fixes` of history: not measured but its own time."""
    migrate(dsn)
    log(f"N = {fixes:,}: filling")
    return fill(dsn, fixes, drones, log)


def sizes_and_queries(
    conn: Conn,
    filled: dict[str, Any],
    sizes_of: Callable[[Conn], dict[str, int]],
    result: dict[str, Any],
) -> list[tuple[str, str, str, tuple[Any, ...]]]:
    """Put the history's bytes (per million fixes) in `result`; the queries to measure on it.

    `sizes_of`: bytes per table (`disk` here; the TimescaleDB run's hypertable sizes). The
    queries ask for the history's last delivered delivery and its first day, so every N
    and both servers answer the same questions about the same kind of rows.
    """
    start = datetime.fromisoformat(filled["history_start"])
    end = datetime.fromisoformat(filled["history_end"])
    sizes = sizes_of(conn)
    result["bytes"] = sizes
    per_million = 1_000_000 / max(1, filled["rows"]["telemetry"])
    result["telemetry_bytes_per_million_fixes"] = round(sizes["telemetry"] * per_million)
    result["telemetry_and_tracking_bytes_per_million_fixes"] = round(
        (sizes["telemetry"] + sizes["tracking"]) * per_million
    )
    found = conn.execute(
        "SELECT delivery_id FROM delivery_events WHERE event_type = 'Delivered'"
        " ORDER BY occurred_at DESC LIMIT 1"
    ).fetchone()
    delivery = str(found[0]) if found else "del-42-0"
    day = TELEMETRY_PARTS.start_of(start) - timedelta(hours=start.hour)
    day = min(day, end - timedelta(hours=end.hour, minutes=end.minute, seconds=end.second))
    return queries(day, "drone-00042", delivery, "biz-42")


def measure_one(
    dsn: str,
    fixes: int,
    filled: dict[str, Any],
    args: argparse.Namespace,
    log: Callable[[str], None],
) -> dict[str, Any]:
    """Every measurement at one history length, on a database `fill_one` filled.

    Migrates again first: a database filled before a migration landed is measured with it
    (the migrations are additive; the fill's record says when it was filled).
    """
    migrate(dsn)
    result: dict[str, Any] = {"fixes": fixes, "drones": args.drones, "fill": filled}
    start = datetime.fromisoformat(filled["history_start"])
    end = datetime.fromisoformat(filled["history_end"])
    with psycopg.connect(dsn, autocommit=True) as conn:
        query_set = sizes_and_queries(conn, filled, disk, result)
        measured = []
        log(f"N = {fixes:,}: queries")
        for reader, name, sql, params in query_set:
            if args.readers is None or reader in args.readers:
                times, rows = timed(conn, sql, params, args.repeat, args.budget_s)
                measured.append(_summary(reader, name, times, rows))
        for reader, name, sql, params in NOTEBOOK_QUERIES:
            if args.readers is None or reader in args.readers:
                times, rows = timed(conn, sql, params, args.heavy_repeat)
                measured.append(_summary(reader, name, times, rows))
        result["queries"] = measured
    last = int((end - start).total_seconds()) + 10
    sink_runs, alone_runs = [], []
    for run in range(args.sink_runs):  # alternated, so a busy moment does not favour one side
        log(f"N = {fixes:,}: sink under queries ({run + 1} of {args.sink_runs})")
        sink_runs.append(
            sink_under_queries(
                dsn,
                args.drones,
                args.sink_seconds,
                args.batch,
                last + 200_000 * run,
                query_set,
                args.query_rounds_per_s,
            )
        )
        log(f"N = {fixes:,}: sink alone ({run + 1} of {args.sink_runs})")
        alone_runs.append(
            sink_under_queries(
                dsn,
                args.drones,
                args.sink_seconds,
                args.batch,
                last + 200_000 * run + 50_000,
                query_set,
                0.0,
                600.0 + 1200.0 * run,
            )
        )
    result["sink"] = _median_run(sink_runs)
    result["sink_alone"] = _median_run(alone_runs)
    log(f"N = {fixes:,}: roll-up refresh")
    result["rollup"] = incremental_refresh(dsn, args.drones, last + 200_000 * args.sink_runs)
    log(f"N = {fixes:,}: retention")
    result["retention"] = retention(dsn, end)
    return result


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median rows/s, with every run's rows/s and the worst beside it."""
    ordered = sorted(runs, key=lambda r: r["sink_rows_per_s"])
    chosen = dict(ordered[(len(ordered) - 1) // 2])
    chosen["runs_rows_per_s"] = [r["sink_rows_per_s"] for r in runs]
    chosen["worst_rows_per_s"] = ordered[0]["sink_rows_per_s"]
    return chosen


def _summary(reader: str, name: str, times: list[float], rows: int) -> dict[str, Any]:
    return {
        "reader": reader,
        "query": name,
        "runs": len(times),
        "rows": rows,
        "p50_ms": round(statistics.median(times), 2),
        "p99_ms": round(percentile(times, 0.99), 2),
        "max_ms": round(max(times), 2),
        "times_ms": [round(t, 3) for t in times],
    }


def render(*folders: Path) -> str:
    """The Markdown table of BENCHMARKS.md from the JSON results in `folders`, N side by side.

    One folder per server: the columns of each are in N order, the folders' in the order
    given. A result with a `label` (`history_bench_timescale`'s: "TimescaleDB (WASM)")
    says it in its column's head. Queries are matched by reader and name, so a column
    measured without one of them shows "-" there.
    """
    results = [
        result
        for folder in folders
        for result in sorted(
            (json.loads(path.read_text()) for path in folder.glob("history_*.json")),
            key=lambda r: int(r["fixes"]),
        )
    ]
    head = " | ".join(
        f"{r['label']}, N = {r['fixes']:,} ({r['drones']:,} drones): p50 / p99 ms"
        if "label" in r
        else f"N = {r['fixes']:,}: p50 / p99 ms"
        for r in results
    )
    lines = [f"| reader | query | {head} |", "|---|---|" + "---:|" * len(results)]
    measured = [{(q["reader"], q["query"]): q for q in r["queries"]} for r in results]
    for reader, name in dict.fromkeys(key for by_name in measured for key in by_name):
        cells = []
        for by_name in measured:
            q = by_name.get((reader, name))
            cells.append(
                "-"
                if q is None
                else f"{q['p50_ms']:,} / {q['p99_ms']:,} ({q['rows']:,} rows, {q['runs']} runs)"
            )
        lines.append(f"| {reader} | {name} | " + " | ".join(cells) + " |")
    extras: list[tuple[str, Callable[[dict[str, Any]], str]]] = [
        ("rows in telemetry", lambda r: f"{r['fill']['rows']['telemetry']:,}"),
        ("rows in tracking", lambda r: f"{r['fill']['rows']['tracking']:,}"),
        ("delivery events", lambda r: f"{r['fill']['rows']['delivery_events']:,}"),
        ("fill (s)", lambda r: f"{r['fill']['fill_s']:,}"),
        (
            "full re-aggregation of the minute roll-up (s)",
            lambda r: f"{r['fill']['full_rollup_refresh_s']:,}",
        ),
        (
            "minute roll-up refresh after 30 s of the fleet, p50 (ms)",
            lambda r: f"{r['rollup']['minute_stats_refresh_p50_ms']:,}",
        ),
        (
            "hourly outcomes refresh, p50 (ms)",
            lambda r: f"{r['rollup']['hourly_outcomes_refresh_p50_ms']:,}",
        ),
        (
            "sink rows/s while the operators' queries run",
            lambda r: (
                f"{r['sink']['sink_rows_per_s']:,} ({r['sink']['queries_meanwhile']:,} queries)"
            ),
        ),
        (
            "sink rows/s alone (no queries)",
            lambda r: f"{r['sink_alone']['sink_rows_per_s']:,}" if "sink_alone" in r else "-",
        ),
        (
            "telemetry bytes per million fixes",
            lambda r: f"{r['telemetry_bytes_per_million_fixes']:,}",
        ),
        (
            "telemetry + tracking bytes per million fixes",
            lambda r: f"{r['telemetry_and_tracking_bytes_per_million_fixes']:,}",
        ),
        (
            "retention (30 min here) dropped",
            lambda r: ", ".join(r["retention"]["dropped"]) or "nothing",
        ),
        ("... telemetry rows removed", lambda r: f"{r['retention']['telemetry_rows_removed']:,}"),
        (
            "... bytes removed (telemetry + tracking)",
            lambda r: (
                f"{sum(r['retention']['bytes_removed'][t] for t in ('telemetry', 'tracking')):,}"
            ),
        ),
        ("... in (s)", lambda r: f"{r['retention']['maintain_s']}"),
    ]
    if any("compression" in r for r in results):  # TimescaleDB's compress_chunk, where run
        extras += [
            (
                "compressed telemetry bytes per million fixes (before)",
                lambda r: _compressed(r, "bytes_per_million_after", "bytes_per_million_before"),
            ),
            (
                "compressed tracking bytes per million updates (before)",
                lambda r: _compressed(
                    r, "bytes_per_million_after", "bytes_per_million_before", "tracking"
                ),
            ),
        ]
    for label, cell in extras:
        lines.append(f"| | {label} | " + " | ".join(cell(r) for r in results) + " |")
    return "\n".join(lines)


def _compressed(r: dict[str, Any], after: str, before: str, table: str = "telemetry") -> str:
    """A compression cell: "after (before)", or "-" where nothing was compressed."""
    found = (r.get("compression") or {}).get(table)
    return f"{found[after]:,} ({found[before]:,})" if found else "-"


def write_summary(out: Path | None, fixes: list[int], extra: dict[str, Any]) -> None:
    """Print (and keep in `out`) the run's machine, command and history lengths."""
    machine = {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        **extra.get("machine", {}),
        "load_average": os.getloadavg(),
    }
    summary = {
        **extra,
        "machine": machine,
        "command": " ".join(sys.argv),
        "fixes": fixes,
    }
    print(json.dumps(summary))
    if out:
        (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--fixes", type=int, nargs="+", default=[0, 10_000_000])
    parser.add_argument("--drones", type=int, default=10_000)
    parser.add_argument("--database", default="dronefleet_history")
    parser.add_argument("--repeat", type=int, default=100)
    parser.add_argument("--heavy-repeat", type=int, default=3)
    parser.add_argument("--budget-s", type=float, default=15.0, help="per query, after 3 runs")
    parser.add_argument("--sink-seconds", type=float, default=20.0)
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--query-rounds-per-s", type=float, default=4.0)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument(
        "--phase",
        choices=("all", "fill", "measure"),
        default="all",
        help="fill every N's database, measure them (reading --out's fill records), or both",
    )
    parser.add_argument(
        "--sink-runs", type=int, default=3, help="sink runs with and without queries (median)"
    )
    parser.add_argument(
        "--readers",
        nargs="+",
        default=None,
        help="measure only these readers' queries (operator, socket, api, dashboard, analyst,"
        " notebook; default: all): a re-run of the quick ones without the notebooks' minutes",
    )
    parser.add_argument("--keep", action="store_true", help="keep the databases (to look at them)")
    parser.add_argument(
        "--render",
        type=Path,
        nargs="+",
        default=None,
        help="print the table of a run's --out (of several, side by side: PostgreSQL, TimescaleDB)",
    )
    args = parser.parse_args()
    if args.render:
        print(render(*args.render))
        return
    settings = StackSettings()
    node = PostgresNode(settings)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
    elif args.phase != "all":
        raise SystemExit("--phase fill and --phase measure keep their records in --out")
    fills: dict[int, dict[str, Any]] = {}

    def log(line: str) -> None:
        print(f"# {datetime.now(UTC):%H:%M:%S} {line}", file=sys.stderr, flush=True)

    databases = {n: f"{args.database}_{n}" for n in args.fixes}
    if args.phase in ("all", "fill"):
        # Every history is filled before any is measured: the measurements of all N then
        # run one after the other, side by side in time, and the fill (minutes at 100
        # million) can run while the machine is busy, the measurements when it is quiet.
        for n in args.fixes:
            node.drop_database(databases[n])
            node.ensure_database(databases[n])
            filled = fill_one(settings.dsn_for(databases[n]), n, args.drones, log)
            filled["filled_at"] = datetime.now(UTC).isoformat()
            filled["load_average_after"] = os.getloadavg()
            if args.out:
                (args.out / f"fill_{n}.json").write_text(json.dumps(filled, indent=1) + "\n")
            fills[n] = filled
    if args.phase == "fill":
        return
    results = []
    for n in args.fixes:
        known = fills.get(n)
        if known is not None:
            filled = known
        else:
            if args.out is None or not (args.out / f"fill_{n}.json").exists():
                raise SystemExit(f"no fill of N = {n} in --out: run --phase fill first")
            filled = json.loads((args.out / f"fill_{n}.json").read_text())
        dsn = settings.dsn_for(databases[n])
        try:
            result = measure_one(dsn, n, filled, args, log)
            result["load_average_after"] = os.getloadavg()
        finally:
            if not args.keep:
                node.drop_database(databases[n])
        results.append(result)
        print(json.dumps(result), flush=True)
        if args.out:
            (args.out / f"history_{n}.json").write_text(json.dumps(result, indent=1) + "\n")
    write_summary(args.out, args.fixes, {})


if __name__ == "__main__":
    main()
