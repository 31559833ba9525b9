"""Writing events through the sink's own writer, and asking where their rows landed.

For the time-partition tests (`tests/integration/test_projections_partitions.py`): no
Kafka needed, the rows take the path the sink's batches take (`PostgresWriter`: the
partition check, the COPY, `drone_latest`, the roll-up's minute notes, checkpoints).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterable

import psycopg
from aiokafka.structs import TopicPartition

from contracts import Event
from projections.rows import Row, TableLayout, to_row
from projections.settings import ProjectionsSettings
from projections.sink import PostgresWriter, SinkStats

_next_offset = [0]


def write_events(dsn: str, events: Iterable[Event]) -> SinkStats:
    """Write the events' rows in one batch through the sink's writer; its stats."""
    rows: dict[TableLayout, list[Row]] = defaultdict(list)
    for event in events:
        placed = to_row(event)
        assert placed is not None, event
        rows[placed[0]].append(placed[1])
    _next_offset[0] += 1
    stats = SinkStats()

    async def go() -> None:
        writer = PostgresWriter(ProjectionsSettings(database_url=dsn), stats)
        try:
            await writer.write(dict(rows), {TopicPartition("partition-tests", 0): _next_offset[0]})
        finally:
            await writer.close()

    asyncio.run(go())
    return stats


def partition_of(dsn: str, table: str, where: str, *params: object) -> list[str]:
    """The partitions holding the table's rows that match `where`, by name."""
    with psycopg.connect(dsn) as conn:
        found = conn.execute(
            f"SELECT DISTINCT tableoid::regclass::text FROM {table} WHERE {where} ORDER BY 1",
            params,  # type: ignore[arg-type]
        ).fetchall()
    return [str(row[0]) for row in found]


def partition_names(dsn: str, table: str) -> list[str]:
    """Every partition of the table (DEFAULT included), by name."""
    with psycopg.connect(dsn) as conn:
        found = conn.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = to_regclass(%s) ORDER BY 1",
            (table,),
        ).fetchall()
    return [str(row[0]) for row in found]
