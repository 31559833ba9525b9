"""Stream throughput: telemetry events/s through validation and tracking in real workers.

Why this exists: the issue's goal is 10,000 telemetry events/s through one worker
process (the gate's validation, then the delivery aggregate's ETA and `TrackingUpdated`),
against the local broker. The baseline is a bare aiokafka consumer that reads the same
topic and decodes every event (`contracts.decode_event`): the ceiling of a Python
consumer on this machine. The scale-out ratio is two workers of one group (4 partitions)
against one.

Each configuration gets fresh topics (4 partitions) pre-filled with N valid fixes of
1,000 drones at 1 Hz, each drone on its own delivery (the `deliveries` topic holds each
delivery's request and assignment, as the aggregate would have written them), so every
fix passes the gate, is re-keyed to `delivery-telemetry`, folded into the tracking table
and answered with a `TrackingUpdated`. Then the worker(s) start (`python -m streams
worker`) and read everything from offset 0 (a worker has folded the deliveries
beforehand, so the timed part is the steady state). The figure is N over the time between the
first record the gate wrote to `delivery-telemetry` and the last `TrackingUpdated`
(broker timestamps set by the worker's producer, so start-up, recovery and the group
join are not counted); the run ends when the group has no lag left. Run from the
repository root with the stack up:
`python benchmarks/streams_throughput_bench.py [--events 200000] [--workers 1 2]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import secrets
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from table_recovery_bench import delete_prefixed_topics, start_worker

from contracts import (
    DeliveryRequested,
    DroneAssigned,
    GeoPoint,
    TelemetryReported,
    Topics,
    decode_event,
    encode_event,
)
from devstack import stack
from devstack.services import RunningService
from devstack.settings import StackSettings
from kafkaio import WireRecord
from streams.ops.lag_report import groups_lag

DRONES = 1000
PICKUP = GeoPoint(47.378, 8.540)
DROPOFF = GeoPoint(47.385, 8.548)
STEP_DEG = 12.0 / 111_000  # 12 m/s northwards, in degrees of latitude per second


def missions(topics: Topics, start: datetime) -> list[WireRecord]:
    """Each drone's delivery: requested, then assigned to it."""
    records = []
    for d in range(DRONES):
        delivery_id = f"d-{d}"
        common = {"occurred_at": start, "recorded_at": start, "delivery_id": delivery_id}
        request = DeliveryRequested(
            event_id=f"r-{d}",
            sequence=1,
            business_id="bench",
            pickup=PICKUP,
            dropoff=DROPOFF,
            **common,  # type: ignore[arg-type]
        )
        assignment = DroneAssigned(
            event_id=f"a-{d}",
            sequence=2,
            drone_id=f"drone-{d}",
            pickup=PICKUP,
            dropoff=DROPOFF,
            **common,  # type: ignore[arg-type]
        )
        for event in (request, assignment):
            records.append(
                WireRecord(topics.deliveries.name, delivery_id.encode(), encode_event(event))
            )
    return records


def fixes(topics: Topics, n: int, start: datetime) -> list[WireRecord]:
    """n valid fixes of DRONES drones at 1 Hz from `start`, each on its delivery."""
    records = []
    for i in range(n):
        d, second = i % DRONES, i // DRONES
        at = start + timedelta(seconds=second)
        fix = TelemetryReported(
            event_id=f"f-{i}",
            sequence=second + 1,
            occurred_at=at,
            recorded_at=at,
            drone_id=f"drone-{d}",
            delivery_id=f"d-{d}",
            lat=47.30 + d / 10_000 + second * STEP_DEG,
            lon=8.50 + d / 10_000,
            altitude_m=60.0,
            ground_speed_mps=12.0,
            heading_deg=0.0,
            battery_pct=80.0,
            phase="to_pickup",
        )
        records.append(WireRecord(topics.telemetry.name, fix.drone_id.encode(), encode_event(fix)))
    return records


async def fill(bootstrap: str, records: list[WireRecord]) -> None:
    """Produce the records and wait for every ack (aiokafka retries a new topic's leader)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20)
    await producer.start()
    try:
        futures = [await producer.send(r.topic, r.value, key=r.key) for r in records]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def partitions_of(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
    await consumer._client._wait_on_metadata(topic)
    return [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]


async def edge_timestamp(bootstrap: str, topic: str, *, first: bool) -> float:
    """The earliest first record's (or the latest last record's) timestamp, in seconds."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = await partitions_of(consumer, topic)
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        stamps: list[float] = []
        for tp in partitions:
            if ends[tp] == 0:
                continue
            consumer.seek(tp, 0 if first else ends[tp] - 1)
            while True:
                batch = await consumer.getmany(tp, timeout_ms=1000, max_records=1)
                if batch.get(tp):
                    stamps.append(batch[tp][0].timestamp / 1000)
                    break
        return min(stamps) if first else max(stamps)
    finally:
        await consumer.stop()


async def count(bootstrap: str, topic: str) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        return sum((await consumer.end_offsets(await partitions_of(consumer, topic))).values())
    finally:
        await consumer.stop()


def cpu_s(workers: list[RunningService]) -> float:
    """User + system CPU seconds the workers have used so far."""
    return sum(sum(psutil.Process(w.process.pid).cpu_times()[:2]) for w in workers)


def wait_drained(
    bootstrap: str, group: str, topics: Topics, workers: list[RunningService], watched: set[str]
) -> tuple[int, float]:
    """Until the workers' groups (Faust's and the gate's) consumed every `watched` record.

    Returns the fixes the deliveries agent had committed when it was first seen to
    commit any, and the CPU seconds the workers spent from then to the end: CPU per
    event does not depend on what else the shared machine runs, unlike events/s.
    """
    deadline = time.monotonic() + 1800
    started: tuple[int, float] | None = None
    while True:
        for worker in workers:
            assert worker.alive(), f"a worker died; see {worker.log_file}"
        groups = [group, f"{group}-gate", f"{group}-deliveries"]
        both = asyncio.run(groups_lag(bootstrap, groups))
        lags = [p for p in both if p.topic in watched]
        # The deliveries stage is the second hop, so count its input.
        done = sum(p.committed or 0 for p in lags if p.topic == topics.delivery_telemetry.name)
        if started is None and done > 0:
            started = (done, cpu_s(workers))
        if {p.topic for p in lags} == watched and all(p.lag == 0 for p in lags):
            return (started[0], cpu_s(workers) - started[1]) if started else (0, 0.0)
        assert time.monotonic() < deadline, "the workers did not drain the topics"
        time.sleep(1.0)


def run_workers(settings: StackSettings, n: int, worker_count: int, logs: Path) -> dict[str, float]:
    """Events/s of `worker_count` workers through gate and tracking, on fresh topics."""
    prefix = f"bench{secrets.token_hex(3)}-"
    topics = Topics.with_prefix(prefix)
    stack.up(settings, topics)
    bootstrap = settings.kafka_bootstrap
    start = datetime.now(UTC) - timedelta(seconds=n // DRONES + 120)
    group = f"{prefix}dronefleet-streams"
    workers: list[RunningService] = []
    try:
        # Warm-up: a worker folds the deliveries (and dispatch queues their requests), so
        # that the timed run is the steady state: fixes through gate and tracking.
        asyncio.run(fill(bootstrap, missions(topics, start)))
        warm_up = start_worker(settings, prefix, f"warm-up-{worker_count}", logs)
        workers = [warm_up]
        wait_drained(
            bootstrap, group, topics, workers, {topics.deliveries.name, topics.dispatch.name}
        )
        warm_up.stop()
        asyncio.run(fill(bootstrap, fixes(topics, n, start)))
        workers = [
            start_worker(
                settings,
                prefix,
                f"throughput-{worker_count}-{i}",
                logs,
                data_dir=tempfile.mkdtemp(prefix="throughput-bench-"),
            )
            for i in range(worker_count)
        ]
        committed_first, cpu = wait_drained(
            bootstrap,
            group,
            topics,
            workers,
            {topics.telemetry.name, topics.delivery_telemetry.name, topics.deliveries.name},
        )
        first = asyncio.run(edge_timestamp(bootstrap, topics.delivery_telemetry.name, first=True))
        last = asyncio.run(edge_timestamp(bootstrap, topics.tracking.name, first=False))
        routed = asyncio.run(count(bootstrap, topics.delivery_telemetry.name))
        tracked = asyncio.run(count(bootstrap, topics.tracking.name))
        dead = asyncio.run(count(bootstrap, topics.deadletter.name))
    finally:
        for worker in workers:
            worker.stop()
        asyncio.run(delete_prefixed_topics(bootstrap, prefix))
    assert dead == 0, f"{dead} valid fixes dead-lettered"
    return {
        "workers": worker_count,
        "events": n,
        "tracking_updates": tracked,
        "never_routed": n - routed,  # fixes the gate never processed (lost by the worker)
        "seconds": round(last - first, 2),
        "events_per_s": round(n / (last - first)),
        "cpu_ms_per_event": round(1000 * cpu / max(n - committed_first, 1), 3),
    }


async def bare_consumer(bootstrap: str, topic: str, n: int) -> tuple[float, float]:
    """Events/s and CPU ms/event of an aiokafka consumer decoding the topic from offset 0."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = await partitions_of(consumer, topic)
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        decoded = 0
        started, cpu_started = time.perf_counter(), time.process_time()
        while decoded < n:
            batch = await consumer.getmany(timeout_ms=1000)
            for records in batch.values():
                for record in records:
                    assert record.value is not None
                    decode_event(record.value)
                    decoded += 1
        cpu_ms = 1000 * (time.process_time() - cpu_started) / n
        return n / (time.perf_counter() - started), cpu_ms
    finally:
        await consumer.stop()


def run_baseline(settings: StackSettings, n: int) -> tuple[float, float]:
    prefix = f"bench{secrets.token_hex(3)}-"
    topics = Topics.with_prefix(prefix)
    stack.up(settings, topics)
    try:
        start = datetime.now(UTC) - timedelta(seconds=n // DRONES + 120)
        asyncio.run(fill(settings.kafka_bootstrap, fixes(topics, n, start)))
        rate = asyncio.run(bare_consumer(settings.kafka_bootstrap, topics.telemetry.name, n))
    finally:
        asyncio.run(delete_prefixed_topics(settings.kafka_bootstrap, prefix))
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    settings = StackSettings()
    stack.up(settings)
    logs = Path(tempfile.mkdtemp(prefix="throughput-bench-logs-"))
    baseline, baseline_cpu_ms = run_baseline(settings, args.events)
    print(
        json.dumps(
            {
                "baseline": "aiokafka + decode_event",
                "events_per_s": round(baseline),
                "cpu_ms_per_event": round(baseline_cpu_ms, 4),
            }
        ),
        flush=True,
    )
    results = {}
    for count_ in args.workers:
        results[count_] = run_workers(settings, args.events, count_, logs)
        ratio = results[count_]["events_per_s"] / baseline
        cpu_ratio = results[count_]["cpu_ms_per_event"] / baseline_cpu_ms
        print(
            json.dumps(
                {
                    **results[count_],
                    "vs_baseline": round(ratio, 4),
                    "cpu_vs_baseline": round(cpu_ratio, 1),
                }
            ),
            flush=True,
        )
    if 1 in results and 2 in results:
        scale = results[2]["events_per_s"] / results[1]["events_per_s"]
        print(json.dumps({"scale_out_2_over_1": round(scale, 2)}))
    print(json.dumps({"python": platform.python_version(), "logs": str(logs)}))


if __name__ == "__main__":
    main()
