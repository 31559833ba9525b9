"""Running the real projection sink inside a test, and reading its checkpoints."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta

import psycopg
from aiokafka import AIOKafkaProducer

from contracts import encode_event
from kafkaio.offsets import end_offsets
from projections.settings import ProjectionsSettings
from projections.sink import Sink
from tests.support.factories import T0, fix
from tests.support.kafka_helpers import wait_for

DRONES = 50
ROUNDS = 40  # one fix per drone per round: 2,000 fixes


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


async def produce_rounds(bootstrap: str, topic: str, pause_s: float) -> None:
    """ROUNDS rounds of one fix per drone, a pause between rounds, every send acked."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for seq in range(1, ROUNDS + 1):
            sent = [
                await producer.send(
                    topic,
                    encode_event(fix(f"drone-{d}", seq, T0 + timedelta(seconds=seq))),
                    key=f"drone-{d}".encode(),
                )
                for d in range(DRONES)
            ]
            await asyncio.gather(*sent)
            await asyncio.sleep(pause_s)
    finally:
        await producer.stop()


async def filled_ends(bootstrap: str, topic: str, partitions: int) -> dict[tuple[str, int], int]:
    """The topic's end offsets, for the partitions that hold records (the checkpoints' form)."""
    ends = await end_offsets(bootstrap, [(topic, p) for p in range(partitions)])
    return {where: offset for where, offset in ends.items() if offset > 0}
