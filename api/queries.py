"""Read queries over the projections' views (never their base tables)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from api.errors import UnavailableError


async def delivery_status(pool: AsyncConnectionPool, delivery_id: str) -> dict[str, Any] | None:
    """The row of `delivery_status_view` for one delivery."""
    return await _one(
        pool, "SELECT * FROM delivery_status_view WHERE delivery_id = %s", (delivery_id,)
    )


async def latest_track(pool: AsyncConnectionPool, delivery_id: str) -> dict[str, Any] | None:
    """The newest row of `delivery_track_view` for one delivery (what its customer saw last)."""
    return await _one(
        pool,
        "SELECT * FROM delivery_track_view WHERE delivery_id = %s ORDER BY sequence DESC LIMIT 1",
        (delivery_id,),
    )


async def track(pool: AsyncConnectionPool, delivery_id: str) -> list[dict[str, Any]]:
    """Every tracking update of a delivery in order: the track its customer saw drawn."""
    return await _all(
        pool,
        "SELECT sequence, observed_at, lat, lon FROM delivery_track_view"
        " WHERE delivery_id = %s ORDER BY sequence",
        (delivery_id,),
    )


async def latest_reason(pool: AsyncConnectionPool, delivery_id: str) -> dict[str, Any] | None:
    """Why the delivery was last rescheduled, failed or cancelled (`delivery_reasons_view`)."""
    return await _one(
        pool,
        "SELECT status, reason FROM delivery_reasons_view WHERE delivery_id = %s"
        " ORDER BY sequence DESC LIMIT 1",
        (delivery_id,),
    )


async def waiting_deliveries(pool: AsyncConnectionPool) -> list[str]:
    """The deliveries waiting for a drone (requested or rescheduled), in dispatch's order.

    Dispatch serves its queue by request time, then id (a rescheduled delivery keeps its
    request time); the order here is the same. Since 0075 the view reads
    `delivery_current` and this filter its partial index of the waiting deliveries, so
    it costs O(waiting), not O(every delivery ever); the API still reads it at most once
    per refresh period, for all the customers it serves (`api.waiting.WaitingLine`).
    """
    rows = await _all(
        pool,
        "SELECT delivery_id FROM delivery_status_view"
        " WHERE status IN ('requested', 'rescheduled') ORDER BY requested_at, delivery_id",
        (),
    )
    return [row["delivery_id"] for row in rows]


async def free_drones(pool: AsyncConnectionPool, silent_after_s: float) -> list[dict[str, Any]]:
    """The drones heard within `silent_after_s`: position, and whether free.

    Free: idle, with no delivery. O(fleet), from `drone_latest_view`; the quote reads it
    at most once per refresh period for the whole process (`api.quote.FreeDrones`).
    """
    return await _all(
        pool,
        "SELECT lat, lon, (phase = 'idle' AND delivery_id IS NULL) AS free"
        " FROM drone_latest_view WHERE observed_at >= now() - make_interval(secs => %s)",
        (silent_after_s,),
    )


async def ping(pool: AsyncConnectionPool) -> None:
    """Raise when the database does not answer."""
    async with pool.connection() as conn:
        await conn.execute("SELECT 1")


async def _all(
    pool: AsyncConnectionPool, query: str, params: tuple[Any, ...]
) -> list[dict[str, Any]]:
    """Rows of a query; a database that does not answer is a 503, not a 500."""
    try:
        async with pool.connection() as conn:
            cursor = conn.cursor(row_factory=dict_row)
            await cursor.execute(query, params)
            return await cursor.fetchall()
    except (psycopg.OperationalError, PoolTimeout) as error:
        raise UnavailableError("the read model does not answer; try again") from error


async def _one(
    pool: AsyncConnectionPool, query: str, params: tuple[Any, ...]
) -> dict[str, Any] | None:
    rows = await _all(pool, query, params)
    return rows[0] if rows else None


async def business_key(pool: AsyncConnectionPool, key_id: str) -> dict[str, Any] | None:
    """The `business_keys_view` row of an API key id (business id and key hash)."""
    return await _one(
        pool, "SELECT business_id, key_sha256 FROM business_keys_view WHERE key_id = %s", (key_id,)
    )


async def business(pool: AsyncConnectionPool, business_id: str) -> dict[str, Any] | None:
    """A business's `businesses_view` row."""
    return await _one(pool, "SELECT * FROM businesses_view WHERE business_id = %s", (business_id,))


_FIRST_DELIVERIES = (
    "SELECT delivery_id FROM business_deliveries_view WHERE business_id = %s"
    " ORDER BY requested_at DESC, delivery_id DESC LIMIT %s"
)
_NEXT_DELIVERIES = (
    "SELECT delivery_id FROM business_deliveries_view WHERE business_id = %s"
    " AND (requested_at, delivery_id) < (%s, %s)"
    " ORDER BY requested_at DESC, delivery_id DESC LIMIT %s"
)


async def business_deliveries(
    pool: AsyncConnectionPool,
    business_id: str,
    after: tuple[datetime, str] | None,
    limit: int,
) -> list[dict[str, Any]]:
    """One page of a business's deliveries, newest first, after the keyset `after`.

    The page's keys come from `business_deliveries_view` (an index range scan); their
    states from `delivery_status_view`, for those ids only.
    """
    if after is None:
        page = await _all(pool, _FIRST_DELIVERIES, (business_id, limit))
    else:
        page = await _all(pool, _NEXT_DELIVERIES, (business_id, *after, limit))
    ids = [row["delivery_id"] for row in page]
    if not ids:
        return []
    rows = await _all(
        pool, "SELECT * FROM delivery_status_view WHERE delivery_id = ANY(%s)", (ids,)
    )
    by_id = {row["delivery_id"]: row for row in rows}
    return [by_id[i] for i in ids if i in by_id]


async def delivery_history(pool: AsyncConnectionPool, delivery_id: str) -> list[dict[str, Any]]:
    """A delivery's events in order (`delivery_events_view`), with their reasons if any."""
    return await _all(
        pool,
        "SELECT e.*, r.reason FROM delivery_events_view e"
        " LEFT JOIN delivery_reasons_view r USING (delivery_id, sequence)"
        " WHERE e.delivery_id = %s ORDER BY e.sequence",
        (delivery_id,),
    )


async def drones(pool: AsyncConnectionPool, after: str | None, limit: int) -> list[dict[str, Any]]:
    """One page of `drone_latest_view`, by drone id."""
    if after is None:
        return await _all(
            pool, "SELECT * FROM drone_latest_view ORDER BY drone_id LIMIT %s", (limit,)
        )
    return await _all(
        pool,
        "SELECT * FROM drone_latest_view WHERE drone_id > %s ORDER BY drone_id LIMIT %s",
        (after, limit),
    )


async def drone(pool: AsyncConnectionPool, drone_id: str) -> dict[str, Any] | None:
    """One drone's latest state from `drone_latest_view`."""
    return await _one(pool, "SELECT * FROM drone_latest_view WHERE drone_id = %s", (drone_id,))


async def fleet_summary(pool: AsyncConnectionPool, silent_after_s: float) -> dict[str, Any]:
    """Counts over `drone_latest_view` (read once): drones, by phase, battery, silent ones."""
    totals = await _one(
        pool,
        "WITH d AS MATERIALIZED (SELECT * FROM drone_latest_view)"
        " SELECT count(*) AS drones,"
        " count(*) FILTER (WHERE delivery_id IS NOT NULL) AS on_delivery,"
        " count(*) FILTER (WHERE observed_at < now() - make_interval(secs => %s)) AS silent,"
        " min(battery_pct) AS battery_min, avg(battery_pct) AS battery_avg,"
        " max(battery_pct) AS battery_max,"
        " count(*) FILTER (WHERE battery_pct < 20) AS battery_below_20,"
        " count(*) FILTER (WHERE battery_pct >= 20 AND battery_pct < 50) AS battery_20_to_50,"
        " count(*) FILTER (WHERE battery_pct >= 50 AND battery_pct < 80) AS battery_50_to_80,"
        " count(*) FILTER (WHERE battery_pct >= 80) AS battery_80_up,"
        " max(observed_at) AS latest_fix_at,"
        " (SELECT coalesce(jsonb_object_agg(phase, n), '{}'::jsonb)"
        "  FROM (SELECT phase, count(*) AS n FROM d GROUP BY phase) p) AS by_phase"
        " FROM d",
        (silent_after_s,),
    )
    assert totals is not None  # an aggregate without GROUP BY always has one row
    return totals


async def delivery_end(pool: AsyncConnectionPool, delivery_id: str) -> dict[str, Any] | None:
    """The delivery's status and, once final, when it ended (delivered, cancelled, failed)."""
    return await _one(
        pool,
        "SELECT s.status, coalesce(s.delivered_at, s.cancelled_at,"
        " (SELECT max(r.occurred_at) FROM delivery_reasons_view r"
        "  WHERE r.delivery_id = s.delivery_id AND r.status = 'failed')) AS ended_at"
        " FROM delivery_status_view s WHERE s.delivery_id = %s",
        (delivery_id,),
    )
