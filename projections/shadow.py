"""The shadow schema a rebuild fills, and the one-transaction swap that puts it live.

Why a shadow schema and a move of objects, rather than new table names or a schema
rename: PostgreSQL binds a view to its tables by OID when the view is created, not by
name, so re-pointing a view at a rebuilt table under the same name is impossible without
recreating it. Instead the rebuild runs every migration with `search_path` set to the
shadow schema, which creates a complete second copy of the projection there: tables,
indexes, roll-ups and the read contract's views, each view bound to the *shadow* tables.
The swap then moves, in one transaction, every live relation into a retired schema
(`ALTER ... SET SCHEMA`; moving keeps OIDs, so the old views keep pointing at the old
tables) and every shadow relation into the live schema (the new views come along, still
bound to the new tables). Readers resolve `delivery_status_view` by name through their
`search_path` at parse time, so their next query sees the new view; a statement running
during the swap either finished before it (old rows) or waits for its locks (new rows).
Cached plans of prepared statements are invalidated by the moves and re-parsed.
Renaming the live schema itself was rejected: it is usually `public`, which also holds
extensions' objects (TimescaleDB's functions) and whatever else the database keeps there.

The retired schema is dropped in the same transaction, unless some object outside it
depends on it (a reader's own view over a base table, say): then the swap is rolled back
with an error naming them, instead of `CASCADE` silently dropping someone's view.

TimescaleDB: the shadow's hypertables, compression and retention policies and the
continuous aggregate are created by the same migrations (names resolve through
`search_path`), and TimescaleDB follows `ALTER TABLE ... SET SCHEMA` of hypertables and
`ALTER MATERIALIZED VIEW ... SET SCHEMA` of continuous aggregates in its catalog. This
path is *not* exercised here: the local PostgreSQL has no TimescaleDB and the WASM build
used for conformance cannot run the sink's COPY. The tests cover plain PostgreSQL.
Migrations may only create relations (tables, views, materialized views, sequences) and
their indexes: functions or types in the shadow schema make the swap refuse.
"""

from __future__ import annotations

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from projections.migrate import migrate

SHADOW_SCHEMA = "projections_rebuild"
RETIRED_SCHEMA = "projections_retired"
_KEYWORDS = {
    "r": "TABLE",
    "p": "TABLE",
    "f": "FOREIGN TABLE",
    "v": "VIEW",
    "m": "MATERIALIZED VIEW",
    "S": "SEQUENCE",
}
# Relations that move on their own (a table's index, toast, identity sequence) are not
# listed: ALTER TABLE ... SET SCHEMA takes them along. A partition (of the time-partitioned
# history, migration 0070) depends on its parent automatically too, but does *not* move
# with it, so partitions are listed and moved like tables. A live partition the shadow
# has no namesake of stays behind, still attached to the retired table, and goes with it
# when the retired schema is dropped. (A partitioned table depends on its own partition
# key columns, internally: not a reason to leave it out.)
_RELATIONS = """
SELECT c.relname, c.relkind FROM pg_class c
WHERE c.relnamespace = %s::regnamespace AND c.relkind IN ('r', 'p', 'f', 'v', 'm', 'S')
  AND (c.relispartition
       OR NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                      AND d.objid = c.oid AND d.refobjid <> c.oid
                      AND d.deptype IN ('a', 'i')))
ORDER BY c.relname
"""


class SwapError(RuntimeError):
    """The shadow schema cannot replace the live one; nothing was changed."""


def in_schema(database_url: str, schema: str) -> str:
    """The same database, with `schema` first on the search path (and nothing else)."""
    return make_conninfo(database_url, options=f"-c search_path={schema}")


def live_schema(database_url: str) -> str:
    """The schema the live projection's unqualified names resolve to (usually public)."""
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT current_schema()").fetchone()
    if row is None or row[0] is None:
        raise SwapError("the connection has no current schema (empty search_path?)")
    return str(row[0])


def prepare_shadow(database_url: str) -> str:
    """A fresh, migrated shadow schema; returns the URL that writes into it."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(_ident(SHADOW_SCHEMA)))
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(_ident(SHADOW_SCHEMA)))
    url = in_schema(database_url, SHADOW_SCHEMA)
    migrate(url)
    return url


def drop_shadow(database_url: str) -> None:
    """Remove a shadow left by a failed rebuild."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(_ident(SHADOW_SCHEMA)))


async def swap(conn: psycopg.AsyncConnection[tuple[object, ...]], live: str) -> list[str]:
    """Inside the caller's transaction: shadow relations become the live ones.

    Returns the names moved in. Raises `SwapError` (the caller rolls back) when the shadow
    holds objects a move would leave behind or the old relations have outside dependents.
    """
    await _refuse_non_relations(conn)
    retired = _ident(RETIRED_SCHEMA)
    await conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(retired))
    await conn.execute(sql.SQL("CREATE SCHEMA {}").format(retired))
    incoming = await _relations(conn, SHADOW_SCHEMA)
    outgoing = {
        name: kind for name, kind in (await _relations(conn, live)).items() if name in incoming
    }
    for name, kind in outgoing.items():
        await conn.execute(_move(live, name, kind, RETIRED_SCHEMA))
    for name, kind in incoming.items():
        await conn.execute(_move(SHADOW_SCHEMA, name, kind, live))
    dependents = await conn.execute(
        "SELECT DISTINCT v.oid::regclass::text FROM pg_depend d"
        " JOIN pg_rewrite r ON d.classid = 'pg_rewrite'::regclass AND r.oid = d.objid"
        " JOIN pg_class v ON v.oid = r.ev_class"
        " JOIN pg_class t ON t.oid = d.refobjid AND d.refclassid = 'pg_class'::regclass"
        " WHERE t.relnamespace = %s::regnamespace AND v.relnamespace <> t.relnamespace"
        " ORDER BY 1",
        (RETIRED_SCHEMA,),
    )
    outside = [str(row[0]) for row in await dependents.fetchall()]
    if outside:
        raise SwapError(
            f"these views depend on the tables being replaced and would be dropped: "
            f"{', '.join(outside)}; recreate them after the rebuild or drop them first"
        )
    await conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(retired))
    await conn.execute(sql.SQL("DROP SCHEMA {}").format(_ident(SHADOW_SCHEMA)))
    return sorted(incoming)


async def _relations(
    conn: psycopg.AsyncConnection[tuple[object, ...]], schema: str
) -> dict[str, str]:
    cursor = await conn.execute(_RELATIONS, (schema,))
    return {str(name): str(kind) for name, kind in await cursor.fetchall()}


async def _refuse_non_relations(conn: psycopg.AsyncConnection[tuple[object, ...]]) -> None:
    cursor = await conn.execute(
        "SELECT (SELECT count(*) FROM pg_proc WHERE pronamespace = %s::regnamespace)"
        " + (SELECT count(*) FROM pg_type WHERE typnamespace = %s::regnamespace"
        "    AND typrelid = 0 AND typcategory <> 'A')",
        (SHADOW_SCHEMA, SHADOW_SCHEMA),
    )
    row = await cursor.fetchone()
    if row is not None and int(str(row[0])) > 0:
        raise SwapError(
            f"schema {SHADOW_SCHEMA} holds functions or types; the swap moves relations only"
        )


def _move(schema: str, name: str, kind: str, target: str) -> sql.Composed:
    return sql.SQL("ALTER {} {}.{} SET SCHEMA {}").format(
        sql.SQL(_KEYWORDS[kind]), _ident(schema), _ident(name), _ident(target)
    )


def _ident(name: str) -> sql.Identifier:
    return sql.Identifier(name)
