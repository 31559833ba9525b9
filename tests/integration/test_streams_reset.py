"""`dronefleet-streams reset` on the real broker: the rebuild from offset 0 equals the live state.

A real worker runs a known log (three drones, three deliveries: one delivered, one
cancelled, one under way), its tables are read back from their changelogs, it stops,
the reset runs (refused while a worker is in the group), a new worker rebuilds from
offset 0, and its tables must have the same digest, with nothing appended to any
output topic during the rebuild.

Dispatch's clock is the exception, by design: every running worker group writes a
`LivenessTick` into `dispatch` every few seconds, the rebuilt one too, so new ticks are
new records (not the rebuild writing the log again) and the clock they set (the fleet
table's `CLOCK_KEY`) is later after the rebuild. The replayed ticks decide what they
decided live. The workers run with liveness settings far longer than the test, so that
no new tick decides anything (a drone of this log stops reporting after a few fixes).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from contracts import (
    DeliveryCancelled,
    DroneAssigned,
    GeoPoint,
    LivenessTick,
    Topics,
    TrackingUpdated,
    decode_event,
    new_event_id,
    utc_now,
)
from devstack.services import PlatformConfig, RunningService, start_service
from devstack.settings import StackSettings
from streams.ops.lag_report import group_lag
from tests.support.factories import DROPOFF, PICKUP, delivered, fix, picked_up, requested
from tests.support.kafka_helpers import collect, produce

TABLES = (
    "delivery-state",
    "delivery-tracking",
    "delivery-parked-commands",
    "dispatch-fleet",
    "dispatch-queue",
)
DRONES = ("drone-a", "drone-b", "drone-c")
DELIVERIES = ("job-1", "job-2", "job-3")
LONG_LIVENESS = {
    "DRONEFLEET_STREAMS_DRONE_SILENT_AFTER_S": "3600",
    "DRONEFLEET_STREAMS_ASSIGNMENT_TAKE_UP_S": "3600",
    "DRONEFLEET_STREAMS_WAIT_PROMISE_S": "3600",
}


@pytest.fixture(scope="module")
def config(running_stack: StackSettings, topics: Topics) -> PlatformConfig:
    return PlatformConfig(stack=running_stack, database="unused", topic_prefix=topics.prefix)


@pytest.fixture
def start_worker(
    running_stack: StackSettings, topics: Topics, config: PlatformConfig
) -> Iterator[Callable[[str], RunningService]]:
    started: list[RunningService] = []

    def start(name: str) -> RunningService:
        logs = running_stack.home / "test-logs" / topics.prefix
        started.append(start_service(name, ["streams", "worker"], config, logs, LONG_LIVENESS))
        return started[-1]

    yield start
    for service in started:
        service.stop()


def run_reset(config: PlatformConfig) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "streams", "reset"],
        env={**os.environ, **config.environment()},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


async def read_topic(bootstrap: str, topic: str) -> list[tuple[bytes | None, bytes | None]]:
    """Every (key, value) of the topic up to its current end offsets."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer._client._wait_on_metadata(topic)
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        assert partitions, f"no topic {topic}"
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        records: list[tuple[bytes | None, bytes | None]] = []
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            batch = await consumer.getmany(timeout_ms=1000)
            records.extend((r.key, r.value) for rs in batch.values() for r in rs)
        return records
    finally:
        await consumer.stop()


def tables(bootstrap: str, group: str) -> dict[str, dict[str, Any]]:
    """Each table's content (last value per key, deletions removed) from its changelog."""
    contents: dict[str, dict[str, Any]] = {}
    for table in TABLES:
        latest: dict[str, Any] = {}
        for key, value in asyncio.run(read_topic(bootstrap, f"{group}-{table}-changelog")):
            assert key is not None
            if value is None:
                latest.pop(key.decode(), None)
            else:
                latest[key.decode()] = json.loads(value)
        contents[table] = latest
    return contents


def canonical(contents: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The tables as the rebuild must reproduce them (see `streams.ops.reset`'s docstring).

    The tracking memory depends on how the co-partitioned topics interleave while
    catching up (a cancellation read before the drone's last fixes keeps an earlier
    position); a finished delivery's final status and drone do not, nor the drop-off
    position of a delivered one.
    """
    states = contents["delivery-state"]
    fleet = {key: entry for key, entry in contents["dispatch-fleet"].items() if key != ""}
    tracking = {
        key: {
            "last_status": tracked["last_status"],
            "drone_id": tracked["drone_id"],
            "position": tracked["last_position"] if tracked["last_status"] == "delivered" else None,
        }
        for key, tracked in contents["delivery-tracking"].items()
        if states[key]["status"] in ("delivered", "cancelled")
    }
    return {**contents, "delivery-tracking": tracking, "dispatch-fleet": fleet}


def digest(contents: dict[str, dict[str, Any]]) -> str:
    return hashlib.sha256(json.dumps(contents, sort_keys=True).encode()).hexdigest()


def dispatch_log(bootstrap: str, topics: Topics) -> list[tuple[bytes | None, bytes | None]]:
    """The dispatch topic's records but the ticks (new ones are written all the time)."""
    return [
        (key, value)
        for key, value in asyncio.run(read_topic(bootstrap, topics.dispatch.name))
        if value is None or not isinstance(decode_event(value), LivenessTick)
    ]


def end_offsets(bootstrap: str, names: list[str]) -> dict[str, int]:
    async def ends() -> dict[str, int]:
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        await consumer.start()
        try:
            result = {}
            for name in names:
                await consumer._client._wait_on_metadata(name)
                tps = [TopicPartition(name, p) for p in consumer.partitions_for_topic(name) or ()]
                result[name] = sum((await consumer.end_offsets(tps)).values())
            return result
        finally:
            await consumer.stop()

    return asyncio.run(ends())


def wait_caught_up(bootstrap: str, group: str, inputs: list[str], worker: RunningService) -> None:
    """Until the group has committed every record of its input topics."""

    deadline = time.monotonic() + 120
    while True:
        assert worker.alive(), f"the worker died; see {worker.log_file}"
        lags = asyncio.run(group_lag(bootstrap, group))
        committed = {p.topic for p in lags if p.committed}
        if set(inputs) <= committed and all(p.lag == 0 for p in lags):
            return
        assert time.monotonic() < deadline, f"group {group} did not catch up: {lags}"
        time.sleep(0.5)


def wait_worker_caught_up(
    bootstrap: str, group: str, topics: Topics, worker: RunningService
) -> None:
    """Until the deliveries stage and the dispatcher have committed all they read.

    Twice over: the dispatcher's assignments are inputs of the deliveries stage.
    """
    for _ in range(2):
        deliveries = [topics.deliveries.name, topics.delivery_telemetry.name]
        wait_caught_up(bootstrap, f"{group}-deliveries", deliveries, worker)
        wait_caught_up(bootstrap, group, [topics.dispatch.name], worker)


def play_the_log(bootstrap: str, topics: Topics) -> None:
    """Three idle drones, three requests; then one delivered, one cancelled, one under way."""
    start = utc_now() - timedelta(seconds=30)
    idle = [
        fix(
            drone, seq, start + timedelta(seconds=seq), GeoPoint(PICKUP.lat + 0.001 * n, PICKUP.lon)
        )
        for n, drone in enumerate(DRONES)
        for seq in range(1, 4)
    ]
    asyncio.run(produce(bootstrap, topics.telemetry.name, idle))
    asyncio.run(
        produce(bootstrap, topics.deliveries.name, [requested(d, at=start) for d in DELIVERIES])
    )

    def assigned_all(records: list[Any]) -> bool:
        found = [decode_event(r.value) for r in records if r.value]
        return {e.delivery_id for e in found if isinstance(e, DroneAssigned)} == set(DELIVERIES)

    found = [
        decode_event(r.value)
        for r in asyncio.run(collect(bootstrap, topics.deliveries.name, assigned_all, 90))
        if r.value
    ]
    drone_of = {e.delivery_id: e.drone_id for e in found if isinstance(e, DroneAssigned)}
    flying = start + timedelta(seconds=10)
    on_mission = [
        fix(
            drone_of[job],
            seq,
            flying + timedelta(seconds=seq),
            GeoPoint(PICKUP.lat + 0.0001 * seq, PICKUP.lon + 0.001 * n),
            delivery_id=job,
            phase="to_pickup",
            speed=12.0,
        )
        for n, job in enumerate(DELIVERIES)
        for seq in range(4, 8)
    ]
    asyncio.run(produce(bootstrap, topics.telemetry.name, on_mission))
    asyncio.run(collect(bootstrap, topics.tracking.name, lambda rs: len(rs) >= 3, 60))
    now = utc_now()
    cancelled = DeliveryCancelled(
        event_id=new_event_id(),
        sequence=3,
        occurred_at=now,
        recorded_at=now,
        delivery_id="job-2",
        requested_by="customer",
        reason="changed my mind",
        drone_id=drone_of["job-2"],
    )
    milestones = [
        picked_up("job-1", drone_of["job-1"]),
        delivered("job-1", drone_of["job-1"]),
        cancelled,
    ]
    asyncio.run(produce(bootstrap, topics.deliveries.name, milestones))

    def finished(records: list[Any]) -> bool:
        updates = [decode_event(r.value) for r in records if r.value]
        statuses = {(u.delivery_id, u.status) for u in updates if isinstance(u, TrackingUpdated)}
        return {("job-1", "delivered"), ("job-2", "cancelled")} <= statuses

    asyncio.run(collect(bootstrap, topics.tracking.name, finished, 60))


def test_reset_rebuilds_the_tables_from_offset_0_with_the_same_result(
    running_stack: StackSettings,
    topics: Topics,
    config: PlatformConfig,
    start_worker: Callable[[str], RunningService],
) -> None:
    bootstrap = running_stack.kafka_bootstrap
    group = f"{topics.prefix}dronefleet-streams"
    outputs = [
        topics.deliveries.name,
        topics.delivery_commands.name,
        topics.delivery_telemetry.name,
        topics.tracking.name,
        topics.deadletter.name,
    ]  # and dispatch, but for its ticks (`dispatch_log`)

    live_worker = start_worker("streams-live")
    play_the_log(bootstrap, topics)
    wait_worker_caught_up(bootstrap, group, topics, live_worker)

    refused = run_reset(config)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "active member" in refused.stdout and "stop every stream worker" in refused.stdout

    live_worker.stop()
    assert live_worker.process.returncode in (0, -15)
    live = tables(bootstrap, group)
    assert {s["status"] for s in live["delivery-state"].values()} == {
        "delivered",
        "cancelled",
        "assigned",
    }
    assert live["dispatch-queue"] == {}
    log_before = end_offsets(bootstrap, outputs)
    dispatch_before = dispatch_log(bootstrap, topics)

    reset = run_reset(config)
    assert reset.returncode == 0, reset.stdout + reset.stderr
    assert "offset 0 committed" in reset.stdout and "created empty changelog" in reset.stdout
    assert "deleted local table state" in reset.stdout, "the RocksDB files must go"
    assert tables(bootstrap, group)["delivery-state"] == {}, "the changelogs must start empty"

    rebuilt_worker = start_worker("streams-rebuilt")
    wait_worker_caught_up(bootstrap, group, topics, rebuilt_worker)
    rebuilt_worker.stop()
    rebuilt = tables(bootstrap, group)

    assert canonical(rebuilt) == canonical(live)
    assert digest(canonical(rebuilt)) == digest(canonical(live))
    assert rebuilt["delivery-state"]["job-1"]["dropoff"] == {"lat": DROPOFF.lat, "lon": DROPOFF.lon}
    assert end_offsets(bootstrap, outputs) == log_before, "the rebuild must not write the log again"
    assert dispatch_log(bootstrap, topics) == dispatch_before
