"""The sink's writer for servers without COPY: batched multi-row INSERT ... ON CONFLICT.

`DRONEFLEET_PROJECTIONS_WRITER=insert` selects it (the default, `copy`, is the binary
COPY of `projections.sink`). Why it exists: the TimescaleDB that CI can run (PGlite's
WASM build with TimescaleDB 2.23 behind pglite-socket, `projections/conformance/serve.mjs`)
dies on COPY FROM STDIN (a WASM `unreachable` trap that takes the whole server down),
and it is one PostgreSQL session shared by every client connection (prepared-statement
names and session settings would collide); PostgreSQL services behind some poolers
refuse COPY too. What it changes, and what it does not:

* the rows: each table's rows go in as `INSERT ... VALUES (...), (...) ON CONFLICT DO
  NOTHING`, `insert_rows_per_statement` rows a statement, so a repeat (a redelivery, a
  replay) is skipped exactly as the COPY path's staging table skips it; `drone_latest`
  takes the same statement with `LATEST_UPSERT`'s clause. The deliveries' fold, the
  tracking upsert, the roll-up's notes and the checkpoints are the very statements of
  the COPY path, in the same transaction.
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

    jsonb columns are wrapped (`Jsonb`), the other values go as they are (parameters,
    never formatted into the text). The count is the server's (a skipped repeat is not
    counted), like the COPY path's.
    """
    jsonb = {i for i, kind in enumerate(layout.column_types) if kind == "jsonb"}
    columns = sql.SQL(", ").join(map(sql.Identifier, layout.column_names))
    one = sql.SQL("({})").format(sql.SQL(", ").join([sql.Placeholder()] * len(layout.columns)))
    step = max(1, rows_per_statement)
    changed = 0
    for start in range(0, len(rows), step):
        chunk = rows[start : start + step]
        values: list[object] = []
        for row in chunk:
            values.extend(
                Jsonb(v) if i in jsonb and v is not None else v for i, v in enumerate(row)
            )
        cursor.execute(
            sql.SQL("INSERT INTO {} ({}) VALUES {} {}").format(
                sql.Identifier(layout.name),
                columns,
                sql.SQL(", ").join([one] * len(chunk)),
                sql.SQL(conflict),
            ),
            values,
        )
        changed += max(cursor.rowcount, 0)
    return changed
