"""The fleet's "now" queries against the length of the history: `drone_latest` vs `DISTINCT ON`.

Why this exists: issue 18 measured the first page of `drone_latest_view` at 5.1 s and
the fleet summary at 5.8 s with 6 million fixes, because the view was a `DISTINCT ON`
over all of `telemetry`. Since migration 0050 the view reads `drone_latest` (one row per
drone, upserted by the sink). This fills a fresh, migrated database on the local stack
with N fixes of `--drones` drones at 1 Hz (generated in SQL: `INSERT ... SELECT
generate_series`, then `drone_latest` the way 0050 backfills it, then VACUUM ANALYZE)
and times, best and median of `--repeat`, the API's fleet page (`SELECT * FROM
drone_latest_view ORDER BY drone_id LIMIT 100`) and the fleet summary's aggregate, both
on the view and on the old definition (`DISTINCT ON` over `telemetry`), for each N.
Run from the repository root with the stack up:
`python benchmarks/fleet_latest_bench.py [--fixes 0 100000 1000000] [--drones 1000]`.
The full history benchmark (issue 18, part 5) is for later; this isolates the one change.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import sys
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from devstack.postgres import PostgresNode
from devstack.settings import StackSettings
from projections.migrate import migrate

OLD_VIEW = (
    "(SELECT DISTINCT ON (drone_id) drone_id, observed_at, lat, lon, altitude_m,"
    " ground_speed_mps, heading_deg, battery_pct, phase, delivery_id FROM telemetry"
    " ORDER BY drone_id, observed_at DESC, sequence DESC)"
)
NEW_VIEW = "drone_latest_view"
PAGE = "SELECT * FROM {} d ORDER BY drone_id LIMIT 100"
SUMMARY = (
    "WITH d AS MATERIALIZED (SELECT * FROM {} l) SELECT count(*),"
    " count(*) FILTER (WHERE delivery_id IS NOT NULL), min(battery_pct), avg(battery_pct),"
    " max(observed_at), (SELECT jsonb_object_agg(phase, n) FROM"
    " (SELECT phase, count(*) AS n FROM d GROUP BY phase) p) FROM d"
)
FILL = """
INSERT INTO telemetry (drone_id, sequence, observed_at, recorded_at, event_id, delivery_id,
                       lat, lon, altitude_m, ground_speed_mps, heading_deg, battery_pct, phase)
SELECT 'drone-' || (i %% %(drones)s), i / %(drones)s + 1,
       TIMESTAMPTZ '2026-12-01 00:00:00+00' + (i / %(drones)s) * INTERVAL '1 second',
       TIMESTAMPTZ '2026-12-01 00:00:00+00' + (i / %(drones)s) * INTERVAL '1 second',
       'e-' || i, CASE WHEN i %% 3 = 0 THEN 'd-' || (i %% %(drones)s) END,
       47.37 + (i %% 97) * 1e-4, 8.53 + (i %% 89) * 1e-4, 60, 12.5, 90, 100 - (i %% 80),
       CASE WHEN i %% 3 = 0 THEN 'to_dropoff' ELSE 'idle' END
FROM generate_series(0, %(n)s - 1) AS i
"""
BACKFILL = """
INSERT INTO drone_latest
SELECT DISTINCT ON (drone_id) drone_id, sequence, observed_at, recorded_at, event_id,
       delivery_id, lat, lon, altitude_m, ground_speed_mps, heading_deg, battery_pct, phase
FROM telemetry ORDER BY drone_id, observed_at DESC, sequence DESC
"""


def timed(conn: psycopg.Connection[tuple[object, ...]], query: str, repeat: int) -> list[float]:
    """Milliseconds of each of `repeat` runs of the query (rows fetched)."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        conn.execute(query).fetchall()
        times.append((time.perf_counter() - started) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fixes", type=int, nargs="+", default=[0, 100_000, 1_000_000])
    parser.add_argument("--drones", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    settings = StackSettings()
    node = PostgresNode(settings)
    results = []
    for n in args.fixes:
        name = f"bench_fleet_{secrets.token_hex(4)}"
        node.ensure_database(name)
        try:
            dsn = settings.dsn_for(name)
            migrate(dsn)
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute(FILL, {"n": n, "drones": args.drones})
                conn.execute(BACKFILL)
                conn.execute("VACUUM ANALYZE telemetry")
                conn.execute("VACUUM ANALYZE drone_latest")
                row: dict[str, object] = {"fixes": n, "drones": args.drones}
                for label, source in (("old", OLD_VIEW), ("new", NEW_VIEW)):
                    for query_name, query in (("page", PAGE), ("summary", SUMMARY)):
                        times = timed(conn, query.format(source), args.repeat)
                        row[f"{label}_{query_name}_best_ms"] = round(min(times), 2)
                        row[f"{label}_{query_name}_median_ms"] = round(statistics.median(times), 2)
            results.append(row)
            print(json.dumps(row), flush=True)
        finally:
            node.drop_database(name)
    print(json.dumps({"load_average": os.getloadavg(), "results": results}))


if __name__ == "__main__":
    main()
