"""Reading the real PostgreSQL in tests."""

from __future__ import annotations

import psycopg


def count(dsn: str, query: str, *params: object) -> int:
    """Run a COUNT-like query and return the integer."""
    with psycopg.connect(dsn) as conn:
        row = conn.execute(query, params).fetchone()  # type: ignore[arg-type]
        assert row is not None
        return int(row[0])
