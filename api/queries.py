"""Read queries over the projections' views (never their base tables)."""

from __future__ import annotations

from typing import Any

from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool


async def delivery_status(pool: AsyncConnectionPool, delivery_id: str) -> dict[str, Any] | None:
    """The row of `delivery_status_view` for one delivery."""
    async with pool.connection() as conn:
        cursor = conn.cursor(row_factory=dict_row)
        await cursor.execute(
            "SELECT * FROM delivery_status_view WHERE delivery_id = %s", (delivery_id,)
        )
        return await cursor.fetchone()


async def ping(pool: AsyncConnectionPool) -> None:
    """Raise when the database does not answer."""
    async with pool.connection() as conn:
        await conn.execute("SELECT 1")
