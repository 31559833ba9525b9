"""Running the real projection sink inside a test, and reading its checkpoints."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import psycopg

from projections.settings import ProjectionsSettings
from projections.sink import Sink
from tests.support.kafka_helpers import wait_for


def checkpoints(dsn: str) -> dict[tuple[str, int], int]:
    """(topic, partition) -> next offset, as the sink stored them."""
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT topic, partition, next_offset FROM projection_checkpoints"
        ).fetchall()
    return {(str(t), int(p)): int(o) for t, p, o in rows}


@contextlib.asynccontextmanager
async def running_sink(settings: ProjectionsSettings) -> AsyncIterator[Sink]:
    """A sink consuming in the background; stopped (its last batch written) on exit."""
    sink = Sink(settings)
    task = asyncio.create_task(sink.run())
    try:
        yield sink
    finally:
        sink.stop()
        await asyncio.wait_for(task, timeout=30)


async def wait_for_checkpoints(dsn: str, records: int, timeout_s: float = 60.0) -> None:
    """Until the checkpoints of every partition add up to `records` consumed records."""
    await wait_for(
        lambda: sum(checkpoints(dsn).values()) == records,
        timeout_s=timeout_s,
        what=f"the sink's checkpoints to cover all {records} records",
    )


def run_sink_until_consumed(settings: ProjectionsSettings, records: int) -> Sink:
    """Run a sink until it has consumed `records` records, then stop it and return it."""

    async def go() -> Sink:
        async with running_sink(settings) as sink:
            await wait_for_checkpoints(settings.database_url, records)
        return sink

    return asyncio.run(go())
