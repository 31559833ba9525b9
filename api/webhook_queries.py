"""Read queries of the webhook routes.

The projection's `webhook_endpoints_view` and the notifier's views (schema `notifier`:
what it sent, what failed, what is dead-lettered).

Before the notifier has ever started, its schema does not exist: its lists are empty.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from api.errors import UnavailableError


async def _all(
    pool: AsyncConnectionPool, query: str, params: tuple[Any, ...]
) -> list[dict[str, Any]]:
    try:
        async with pool.connection() as conn:
            cursor = conn.cursor(row_factory=dict_row)
            await cursor.execute(query, params)
            return await cursor.fetchall()
    except psycopg.errors.UndefinedTable:
        return []  # the notifier has not created its schema yet: nothing sent
    except (psycopg.OperationalError, PoolTimeout) as error:
        raise UnavailableError("the read model does not answer; try again") from error


async def endpoints(pool: AsyncConnectionPool, business_id: str) -> list[dict[str, Any]]:
    """A business's endpoints, oldest first."""
    return await _all(
        pool,
        "SELECT * FROM webhook_endpoints_view WHERE business_id = %s"
        " ORDER BY created_at, endpoint_id",
        (business_id,),
    )


async def endpoint(
    pool: AsyncConnectionPool, business_id: str, endpoint_id: str
) -> dict[str, Any] | None:
    """One endpoint of the business, or None (another business's is None too)."""
    rows = await _all(
        pool,
        "SELECT * FROM webhook_endpoints_view WHERE business_id = %s AND endpoint_id = %s",
        (business_id, endpoint_id),
    )
    return rows[0] if rows else None


async def health(
    pool: AsyncConnectionPool, business_id: str, endpoint_id: str
) -> dict[str, Any] | None:
    """The notifier's counts for one endpoint, or None before it heard of it."""
    rows = await _all(
        pool,
        "SELECT * FROM notifier.webhook_endpoint_health_view"
        " WHERE business_id = %s AND endpoint_id = %s",
        (business_id, endpoint_id),
    )
    return rows[0] if rows else None


async def messages(
    pool: AsyncConnectionPool,
    business_id: str,
    endpoint_id: str,
    state: str | None,
    after: int | None,
    limit: int,
) -> list[dict[str, Any]]:
    """The endpoint's messages in outbox order (of one state), after a position."""
    return await _all(
        pool,
        "SELECT * FROM notifier.webhook_messages_view"
        " WHERE business_id = %s AND endpoint_id = %s"
        " AND (%s::text IS NULL OR state = %s) AND position > %s"
        " ORDER BY position LIMIT %s",
        (business_id, endpoint_id, state, state, after or 0, limit),
    )


async def attempts(
    pool: AsyncConnectionPool,
    business_id: str,
    endpoint_id: str,
    message_id: str | None,
    after: int | None,
    limit: int,
) -> list[dict[str, Any]]:
    """The endpoint's attempts, oldest first (of one message), after an attempt id."""
    return await _all(
        pool,
        "SELECT * FROM notifier.webhook_attempts_view"
        " WHERE business_id = %s AND endpoint_id = %s"
        " AND (%s::text IS NULL OR message_id = %s) AND attempt_id > %s"
        " ORDER BY attempt_id LIMIT %s",
        (business_id, endpoint_id, message_id, message_id, after or 0, limit),
    )
