"""A rebuild while the live sink runs and telemetry keeps arriving: no gap, no duplicate.

The rebuild replays up to the end offsets it saw at its start, while the live sink keeps
consuming past them; the swap must catch the shadow up with the live checkpoints under
the sink's write lock, so that after it the live sink continues in the new tables exactly
where it was. At the end every fix is there once and the checkpoints equal the end offsets.
"""

from __future__ import annotations

import asyncio

from contracts import Topics
from devstack.settings import StackSettings
from projections.rebuild import RebuildResult, rebuild
from projections.settings import ProjectionsSettings
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


def test_rebuild_with_the_live_sink_running(
    running_stack: StackSettings, topics: Topics, database: str
) -> None:
    settings = ProjectionsSettings(
        kafka_bootstrap=running_stack.kafka_bootstrap,
        topic_prefix=topics.prefix,
        database_url=database,
        flush_interval_ms=50,
        rollup_refresh_interval_s=0.5,
    )
    total = DRONES * ROUNDS

    async def scenario() -> RebuildResult:
        producing = asyncio.create_task(
            produce_rounds(running_stack.kafka_bootstrap, topics.accepted_telemetry.name, 0.1)
        )
        try:
            async with running_sink(settings) as sink:
                await wait_for(lambda: sink.stats.batches >= 3, timeout_s=60, what="live batches")
                # One record per transaction: the replay takes a while, as over a long log,
                # and the live sink moves past the end offsets the rebuild started from.
                result = await rebuild(settings.model_copy(update={"batch_max_rows": 1}))
                await producing
                await wait_for_checkpoints(database, total)
        finally:
            if not producing.done():
                producing.cancel()
        return result

    result = asyncio.run(scenario())
    assert result.caught_up > 0  # the live sink was ahead: the locked catch-up ran
    assert count(database, "SELECT count(*) FROM telemetry") == total
    assert count(database, "SELECT count(DISTINCT (drone_id, sequence)) FROM telemetry") == total
    assert checkpoints(database) == asyncio.run(
        filled_ends(
            running_stack.kafka_bootstrap,
            topics.accepted_telemetry.name,
            topics.accepted_telemetry.partitions,
        )
    )
