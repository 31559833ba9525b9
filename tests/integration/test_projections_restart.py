"""The sink survives a PostgreSQL restart in the middle of a stream, losing and doubling nothing.

Telemetry is produced while the real sink runs; once the sink has committed batches, the
shared PostgreSQL server is stopped (fast shutdown: every connection is cut, a COPY or a
commit in flight fails), kept down for a few seconds while records keep arriving, and
started again. At the end every fix is in `telemetry` exactly once and the checkpoints
equal the topic's end offsets. The outage is one short window inside this one test;
other modules use their own databases and their fixtures connect afresh.
"""

from __future__ import annotations

import asyncio

from contracts import Topics
from devstack.postgres import PostgresNode
from devstack.settings import StackSettings
from projections.settings import ProjectionsSettings
from projections.sink import Sink
from tests.support.database import count
from tests.support.kafka_helpers import wait_for
from tests.support.sink_helpers import (
    DRONES,
    ROUNDS,
    checkpoints,
    filled_ends,
    produce_rounds,
    running_sink,
    wait_for_checkpoints,
)

OUTAGE_S = 3.0


def test_sink_rides_out_a_postgresql_restart(
    running_stack: StackSettings, topics: Topics, database: str
) -> None:
    settings = ProjectionsSettings(
        kafka_bootstrap=running_stack.kafka_bootstrap,
        topic_prefix=topics.prefix,
        database_url=database,
        flush_interval_ms=50,
        reconnect_max_delay_s=0.5,
        rollup_refresh_interval_s=0.5,  # a refresh is in flight or due when the server stops
    )
    node = PostgresNode(running_stack)
    total = DRONES * ROUNDS

    async def scenario() -> Sink:
        producing = asyncio.create_task(
            produce_rounds(running_stack.kafka_bootstrap, topics.accepted_telemetry.name, 0.15)
        )
        try:
            async with running_sink(settings) as sink:
                await wait_for(
                    lambda: sink.stats.batches >= 3, timeout_s=60, what="the sink's first batches"
                )
                assert not producing.done(), "the restart must happen while records still arrive"
                written_before = sink.stats.rows_written
                await asyncio.to_thread(node.stop)
                await asyncio.sleep(OUTAGE_S)
                await asyncio.to_thread(node.start)
                await asyncio.to_thread(node.wait_healthy, 30.0)
                assert written_before < total
                await producing
                await wait_for_checkpoints(database, total, timeout_s=90)
        finally:
            if not producing.done():
                producing.cancel()
        return sink

    sink = asyncio.run(scenario())
    assert sink.stats.reconnects >= 1  # it really lost its connection
    assert count(database, "SELECT count(*) FROM telemetry") == total
    assert count(database, "SELECT count(DISTINCT (drone_id, sequence)) FROM telemetry") == total
    assert checkpoints(database) == asyncio.run(
        filled_ends(
            running_stack.kafka_bootstrap,
            topics.accepted_telemetry.name,
            topics.accepted_telemetry.partitions,
        )
    )
