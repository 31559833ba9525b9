"""Keeping the analyst roll-ups fresh where nothing else does.

On TimescaleDB `drone_minute_stats` is a continuous aggregate: its policy and real-time
aggregation keep it current, and it is not in `pg_matviews`. Every roll-up that *is* an
ordinary materialized view (both on plain PostgreSQL; `delivery_hourly_outcomes` on
TimescaleDB too) is refreshed here, CONCURRENTLY so that readers are never blocked.
The sink calls this at most every `rollup_refresh_interval_s` after it wrote rows, in a
worker thread so the consume loop keeps going; `dronefleet-projections refresh` and the
tests call it directly.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

ROLLUPS = ("drone_minute_stats", "delivery_hourly_outcomes")


def refresh_rollups(database_url: str) -> list[str]:
    """Refresh the roll-ups that are plain materialized views here; return their names."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        names = [
            str(row[0])
            for row in conn.execute(
                "SELECT matviewname FROM pg_matviews"
                " WHERE schemaname = current_schema() AND matviewname = ANY(%s)"
                " ORDER BY matviewname",
                (list(ROLLUPS),),
            )
        ]
        for name in names:
            conn.execute(
                sql.SQL("REFRESH MATERIALIZED VIEW CONCURRENTLY {}").format(sql.Identifier(name))
            )
    return names
