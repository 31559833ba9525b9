"""The sink's writer for servers without COPY: batched INSERT ... ON CONFLICT of arrays.

`DRONEFLEET_PROJECTIONS_WRITER=insert` selects it (the default, `copy`, is the binary
COPY of `projections.sink`). Why it exists: the TimescaleDB that CI can run (PGlite's
WASM build with TimescaleDB 2.23 behind pglite-socket, `projections/conformance/serve.mjs`)
dies on COPY FROM STDIN (a WASM `unreachable` trap that takes the whole server down),
and it is one PostgreSQL session shared by every client connection (prepared-statement
names and session settings would collide); PostgreSQL services behind some poolers
refuse COPY too. What it changes, and what it does not:

* the rows: each table's rows go in as `INSERT ... SELECT * FROM unnest(<one array per
  column>) ON CONFLICT DO NOTHING`, up to `insert_rows_per_statement` rows a statement,
  so a repeat (a redelivery, a replay) is skipped exactly as the COPY path's staging
  table skips it; `drone_latest` takes the same statement with `LATEST_UPSERT`'s clause.
  The deliveries' fold, the tracking upsert, the roll-up's notes and the checkpoints are
  the very statements of the COPY path, in the same transaction.
* the connection (`connect`): nothing is prepared (`prepare_threshold=None`), so no
  statement name can collide in a session shared with other clients.
* one connection: the roll-up refresh and the partition maintenance run on the writer's
  own connection and thread, between batches (`projections.sink.RollupRefresher`), so
  the sink never needs a second connection (pglite-socket serves one by default, and
  more only as turns of its one session).

What it costs: BENCHMARKS.md, "The sink's insert writer" (rows/s against COPY on plain
PostgreSQL, same rows, same run).
"""

from __future__ import annotations

from collections.abc import Sequence

import psycopg
from psycopg import sql
from psycopg.adapt import PyFormat
from psycopg.types.json import Jsonb

from projections.rows import Row, TableLayout

Conn = psycopg.Connection[tuple[object, ...]]


def connect(database_url: str) -> Conn:
    """A connection that prepares nothing (a shared session has one namespace of names)."""
    conn: Conn = psycopg.Connection.connect(database_url, prepare_threshold=None)
    return conn


def insert_rows(
    cursor: psycopg.Cursor[tuple[object, ...]],
    layout: TableLayout,
    rows: Sequence[Row],
    rows_per_statement: int,
    conflict: str = "ON CONFLICT DO NOTHING",
) -> int:
    """INSERT the rows, `rows_per_statement` at a time, with `conflict`; rows changed.

    One array parameter per column, unnested by the server (`INSERT ... SELECT * FROM
    unnest($1::text[], $2::int8[], ...)`): the statement's text is the same whatever the
    number of rows, so psycopg parses it once (cached) and adapts each column as one
    binary array (`%b`: no text quoting). A `VALUES (%s, ...), (%s, ...)` list of 500
    rows spent 88 % of the writer's time in psycopg splitting and composing 6,500
    placeholders (1,700 rows/s); text arrays spent half of it quoting. jsonb values are
    wrapped (`Jsonb`); nothing is ever formatted into the text. The count is
    the server's (a skipped repeat is not counted), like the COPY path's.
    """
    jsonb = {i for i, kind in enumerate(layout.column_types) if kind == "jsonb"}
    statement = _statement(layout, conflict)
    step = max(1, rows_per_statement)
    changed = 0
    for start in range(0, len(rows), step):
        chunk = rows[start : start + step]
        columns: list[list[object]] = [list(column) for column in zip(*chunk, strict=True)]
        for i in jsonb:
            columns[i] = [None if v is None else Jsonb(v) for v in columns[i]]
        cursor.execute(statement, columns)
        changed += max(cursor.rowcount, 0)
    return changed


def _statement(layout: TableLayout, conflict: str) -> sql.Composed:
    """`INSERT INTO t (c1, ...) SELECT * FROM unnest(%s::k1[], ...) <conflict>`."""
    names = sql.SQL(", ").join(map(sql.Identifier, layout.column_names))
    arrays = sql.SQL(", ").join(
        sql.SQL("{}::{}[]").format(sql.Placeholder(format=PyFormat.BINARY), sql.SQL(kind))
        for kind in layout.column_types
    )
    return sql.SQL("INSERT INTO {} ({}) SELECT * FROM unnest({}) {}").format(
        sql.Identifier(layout.name), names, arrays, sql.SQL(conflict)
    )
