"""The lag exporter reads a real group's committed offsets against the real partitions' ends
and serves them to Prometheus, whether the group's consumers run or not."""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request

from aiokafka import TopicPartition
from prometheus_client import CollectorRegistry, generate_latest

from contracts import Topics
from devstack.settings import StackSettings
from kafkaio.offsets import end_offsets
from streams.ops.consumer_groups import commit
from streams.ops.lag_exporter import LagCollector, LagReadings, poll_once, serve
from tests.support.api_platform import free_port
from tests.support.kafka_helpers import produce


def samples(readings: LagReadings, family: str) -> dict[str, float]:
    """One family's samples from the collector, by `topic[partition]`."""
    registry = CollectorRegistry()
    registry.register(LagCollector(readings))
    found = {}
    for line in generate_latest(registry).decode().splitlines():
        if line.startswith(family + "{"):
            labels, value = line.rsplit(" ", 1)
            group, partition, topic = labels.split('"')[1::2]
            found[f"{group}:{topic}[{partition}]"] = float(value)
    return found


def test_lag_is_what_the_group_has_not_committed(
    running_stack: StackSettings, topics: Topics
) -> None:
    bootstrap, topic = running_stack.kafka_bootstrap, topics.telemetry.name
    group = f"{topics.prefix}stalled"
    asyncio.run(produce(bootstrap, topic, [(b"drone-1", b"x")] * 5))
    partition = asyncio.run(_partition_with_records(bootstrap, topic))
    asyncio.run(commit(bootstrap, group, {TopicPartition(topic, partition): 2}))

    readings = LagReadings()
    assert readings.ready() is not None, "not ready before Kafka answered"
    asyncio.run(poll_once(bootstrap, [group], readings))

    assert readings.ready() is None
    key = f"{group}:{topic}[{partition}]"
    assert samples(readings, "dronefleet_consumer_lag_records") == {key: 3.0}
    assert samples(readings, "dronefleet_consumer_committed_offset") == {key: 2.0}
    assert samples(readings, "dronefleet_partition_end_offset") == {key: 5.0}


async def _partition_with_records(bootstrap: str, topic: str) -> int:
    """The one partition the records (one key) went to."""
    ends = await end_offsets(bootstrap, [(topic, p) for p in range(4)])
    return next(p for (_, p), end in ends.items() if end)


def test_the_command_serves_the_lag_and_its_probes(
    running_stack: StackSettings, topics: Topics
) -> None:
    async def scenario() -> tuple[str, int]:
        port = free_port()
        serving = asyncio.create_task(
            serve(running_stack.kafka_bootstrap, [f"{topics.prefix}none"], "127.0.0.1", port, 0.5)
        )
        try:
            for _ in range(100):
                await asyncio.sleep(0.1)
                metrics, ready = await asyncio.to_thread(_get, port)
                if ready == 200:
                    return metrics, ready
            return await asyncio.to_thread(_get, port)
        finally:
            serving.cancel()

    metrics, ready = asyncio.run(scenario())
    assert ready == 200
    assert 'dronefleet_lag_exporter_polls_total{outcome="ok"}' in metrics


def _get(port: int) -> tuple[str, int]:
    """The metrics page and the readiness probe's status."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        metrics = answer.read().decode()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as answer:
            return metrics, int(answer.status)
    except urllib.error.HTTPError as error:
        return metrics, error.code
