"""Apply the versioned SQL migrations once each, in order, under an advisory lock.

Each file `NNNN_name.sql` runs in its own transaction with its row in
`schema_migrations`; running `migrate` twice, or from two processes at once, applies
nothing twice.

After the files, the analysts' migration (`ANALYST_GRANTS`, idempotent) runs once more:
it grants every view of the read contract (`*_view` in the current schema) to their
read-only role, so a view added by a later migration is readable by analysts without
that migration saying so.
"""

from __future__ import annotations

import re
from importlib import resources

import psycopg

MIGRATION_LOCK = 0x0D50_F1EE  # an arbitrary, fixed advisory-lock key
ANALYST_ROLE = "dronefleet_analyst"
ANALYST_GRANTS = 52
"""The migration that creates `ANALYST_ROLE` and grants it every view; it runs again last."""
_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


def available() -> list[tuple[int, str, str]]:
    """(version, file name, SQL) of every migration shipped with the package."""
    folder = resources.files("projections") / "migrations"
    found = []
    for entry in folder.iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text()))
    return sorted(found)


def migrate(database_url: str) -> list[str]:
    """Apply the missing migrations; return the names applied."""
    applied_now: list[str] = []
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version integer PRIMARY KEY, name text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
            shipped = available()
            for version, name, text in shipped:
                if version in done:
                    continue
                with conn.transaction():
                    conn.execute(text)
                    conn.execute(
                        "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                        (version, name),
                    )
                applied_now.append(name)
            for version, _, text in shipped:
                if version == ANALYST_GRANTS:
                    conn.execute(text)  # after the migrations: every view gets its grant
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))
    return applied_now
