"""The sink's metrics and probes, from a real sink writing real records into PostgreSQL."""

from __future__ import annotations

import asyncio

from prometheus_client import generate_latest

from contracts import Topics
from devstack.settings import StackSettings
from projections.metrics import sink_probes
from projections.settings import ProjectionsSettings
from tests.support.factories import T0, fix
from tests.support.kafka_helpers import produce
from tests.support.sink_helpers import running_sink, wait_for_checkpoints


def samples(text: str) -> dict[str, float]:
    """Every sample of the page, by its name and labels."""
    found = {}
    for line in text.splitlines():
        if line.startswith("dronefleet_sink_"):
            name, value = line.rsplit(" ", 1)
            found[name] = float(value)
    return found


def test_the_sink_counts_rows_by_table_and_ages_its_checkpoint(
    running_stack: StackSettings, topics: Topics, database: str
) -> None:
    settings = ProjectionsSettings(
        kafka_bootstrap=running_stack.kafka_bootstrap,
        topic_prefix=topics.prefix,
        database_url=database,
    )
    fixes = [fix(seq=n, at=T0.replace(second=n)) for n in range(1, 6)]
    bootstrap = running_stack.kafka_bootstrap
    asyncio.run(produce(bootstrap, topics.accepted_telemetry.name, [*fixes, (b"x", b"\x00bad")]))

    async def scenario() -> tuple[dict[str, float], str | None]:
        async with running_sink(settings) as sink:
            probes = sink_probes(sink.stats)
            await wait_for_checkpoints(database, len(fixes) + 1)
            return samples(generate_latest(probes.registry).decode()), probes.ready()

    seen, ready = asyncio.run(scenario())
    assert ready is None, "ready while it holds the database"
    assert seen['dronefleet_sink_rows_total{table="telemetry"}'] == 5
    assert seen["dronefleet_sink_records_total"] == 6
    assert seen["dronefleet_sink_undecodable_records_total"] == 1
    assert seen["dronefleet_sink_batches_total"] >= 1
    assert seen["dronefleet_sink_write_seconds_total"] > 0
    assert 0 <= seen["dronefleet_sink_checkpoint_age_seconds"] < 30
    assert seen["dronefleet_sink_database_up"] == 1
