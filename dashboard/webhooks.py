"""The dashboard's webhooks section: messages per endpoint, failures, pauses and dead letters.

Read from the notifier's views (schema `notifier`, docs/decisions/0004-webhooks.md), not
the projections': before the notifier has ever run, the section says so.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import psycopg

ENDPOINTS = """
SELECT h.business_id, h.url, h.enabled, h.delivered, h.pending, h.dead,
       h.consecutive_failures, h.paused_until,
       (SELECT count(*) FROM notifier.webhook_attempts_view a
         WHERE a.endpoint_id = h.endpoint_id AND a.outcome <> 'delivered'
           AND a.attempted_at > now() - interval '1 hour') AS failed_last_hour
FROM notifier.webhook_endpoint_health_view h
WHERE NOT h.deleted
ORDER BY h.dead DESC, h.pending DESC, h.delivered DESC, h.endpoint_id
LIMIT 100
"""


def endpoints(conn: psycopg.Connection[Any]) -> pd.DataFrame | None:
    """One row per endpoint (the 100 most troubled), or None: no notifier has run yet."""
    try:
        cursor = conn.execute(ENDPOINTS)
    except psycopg.errors.UndefinedTable:
        conn.rollback()
        return None
    columns = [column.name for column in cursor.description or ()]
    return pd.DataFrame(cursor.fetchall(), columns=columns)
