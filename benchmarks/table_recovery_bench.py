"""Table recovery after a SIGKILL: seconds until a stream worker processes again, per store.

Why this exists: the issue asks for the table store chosen by measured recovery time
after a kill. A worker cannot process a record before its tables are recovered; with
`memory://` that means reading every changelog from offset 0 at each start, with
`rocksdb://` only what the local files lack (their saved offsets survive a kill).

For each store and size N, on fresh topics of the local stack: the `delivery-state` and
`delivery-tracking` changelogs are filled with N deliveries each (the JSON the worker
writes: a `DeliveryState` and a `TrackingMemory` per delivery, keyed and partitioned like
the worker does), as a worker would have left them after N deliveries. Then a real
worker (`python -m streams worker`, its own data directory) starts ("cold": both stores
read the whole changelog) while a round of new `DeliveryRequested` probes, one per
partition, is produced every second; the clock stops when the worker has forwarded a
probe of every partition to `dispatch` (it has recovered and processes). Then SIGKILL;
the script waits until the broker has dropped the dead member (its session timeout, the
same for both stores: not timed) and starts a new worker on the same data directory
("after kill"), timed the same way. Run from the repository root with the
stack up: `python benchmarks/table_recovery_bench.py [--keys 10000 100000]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import secrets
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import msgspec
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.partitioner import DefaultPartitioner

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from contracts import GeoPoint, Topics, encode_event, new_event_id
from contracts.events import DeliveryRequested
from devstack import stack
from devstack.services import PlatformConfig, RunningService, start_service
from devstack.settings import StackSettings
from kafkaio.admin import admin_client
from streams.domain.delivery import DeliveryState
from streams.ops.consumer_groups import wait_until_empty
from streams.processors.delivery_repository import TrackingMemory
from streams.processors.telemetry_gate import FLEET_KEY
from streams.runtime.changelogs import declare_changelogs
from streams.runtime.tables import changelog_specs
from streams.settings import StreamsSettings

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
PROBE_EVERY_S = 1.0
PICKUP = GeoPoint(47.378, 8.540)
DROPOFF = GeoPoint(47.385, 8.548)


def start_worker(
    stack_settings: StackSettings, prefix: str, name: str, logs: Path, **extra: str
) -> RunningService:
    """`python -m streams worker` as the platform starts it, with DRONEFLEET_STREAMS_* extra."""
    config = PlatformConfig(stack=stack_settings, database="unused", topic_prefix=prefix)
    env = {f"DRONEFLEET_STREAMS_{key.upper()}": value for key, value in extra.items()}
    return start_service(name, ["streams", "worker"], config, logs, env)


async def delete_prefixed_topics(bootstrap_servers: str, prefix: str) -> None:
    """Remove every topic of the run (its own topics and the workers' changelogs)."""
    async with admin_client(bootstrap_servers) as admin:
        names = [name for name in await admin.list_topics() if name.startswith(prefix)]
        if names:
            await admin.delete_topics(names)


def state_value(i: int) -> bytes:
    """What the worker's `delivery-state` table holds for an assigned delivery."""
    state = DeliveryState(
        delivery_id=f"d-{i}",
        business_id="b1",
        status="assigned",
        pickup=PICKUP,
        dropoff=DROPOFF,
        version=2,
        requested_at=T0,
        drone_id=f"drone-{i}",
    )
    return msgspec.json.encode(state)


def tracking_value(i: int) -> bytes:
    """What the worker's `delivery-tracking` table holds while a drone flies."""
    tracked = TrackingMemory(
        sequence=12,
        smoothed_speed_mps=14.2,
        last_emitted_at=T0,
        last_status="en_route_to_pickup",
        last_position=GeoPoint(47.37 + i % 997 / 1e5, 8.54 + i % 991 / 1e5),
        drone_id=f"drone-{i}",
    )
    return msgspec.json.encode(tracked)


async def fill_changelogs(bootstrap_servers: str, prefix: str, n: int) -> None:
    """N deliveries in the state and tracking changelogs, keyed by delivery id."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers, acks="all", linger_ms=20)
    await producer.start()
    try:
        futures = []
        for table, value_of in (
            ("delivery-state", state_value),
            ("delivery-tracking", tracking_value),
        ):
            topic = f"{prefix}dronefleet-streams-{table}-changelog"
            for i in range(n):
                futures.append(await producer.send(topic, value_of(i), key=f"d-{i}".encode()))
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


def probe_keys(partitions: int) -> dict[int, str]:
    """One fresh delivery id per partition (the producer's murmur2 partitioner)."""
    partitioner, every = DefaultPartitioner(), list(range(partitions))
    found: dict[int, str] = {}
    nonce = secrets.token_hex(4)
    while len(found) < partitions:
        key = f"probe-{nonce}-{secrets.token_hex(3)}"
        found.setdefault(partitioner(key.encode(), every, every), key)
    return found


def request(delivery_id: str) -> bytes:
    now = datetime.now(UTC)
    return encode_event(
        DeliveryRequested(
            event_id=new_event_id(),
            sequence=1,
            occurred_at=now,
            recorded_at=now,
            delivery_id=delivery_id,
            business_id="bench",
            pickup=PICKUP,
            dropoff=DROPOFF,
        )
    )


async def probe(
    bootstrap_servers: str, topics: Topics, worker: RunningService, timeout_s: float
) -> None:
    """Return once the worker forwards new requests to `dispatch` on every partition.

    A round of requests, one per partition of `deliveries`, every `PROBE_EVERY_S`: a
    worker drops records that reach a partition while it recovers a large table
    (BENCHMARKS.md, "Table recovery"), so one probe sent at start could wait forever.
    """
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False)
    await consumer.start()
    dispatch = TopicPartition(topics.dispatch.name, 0)
    consumer.assign([dispatch])
    await consumer.seek_to_end(dispatch)
    await consumer.position(dispatch)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers, acks="all")
    await producer.start()
    sent: dict[bytes, int] = {}
    flowing: set[int] = set()
    deadline = time.monotonic() + timeout_s
    next_round = 0.0
    try:
        while len(flowing) < topics.deliveries.partitions:
            assert worker.alive(), f"the worker died; see {worker.log_file}"
            assert time.monotonic() < deadline, f"partitions {flowing} only; {worker.log_file}"
            if time.monotonic() >= next_round:
                for partition, key in probe_keys(topics.deliveries.partitions).items():
                    sent[key.encode()] = partition
                    await producer.send(topics.deliveries.name, request(key), key=key.encode())
                next_round = time.monotonic() + PROBE_EVERY_S
            batch = await consumer.getmany(timeout_ms=100)
            for records in batch.values():
                for record in records:
                    if record.key == FLEET_KEY and record.value:
                        flowing |= {p for k, p in sent.items() if k in record.value}
    finally:
        await producer.stop()
        await consumer.stop()


def changelog_read_s(log_file: Path) -> float:
    """Seconds the worker spent reading changelogs, from its log (0 when nothing to read).

    The deliveries stage logs "restored N keys in S s" per assignment; Faust logs the
    start and the end of its own (the dispatcher's tables) reading.
    """
    stamps = {}
    stage_s = 0.0
    for line in log_file.read_text(errors="replace").splitlines():
        if "deliveries: restored" in line:
            stage_s += float(line.rsplit(" in ", 1)[1].split()[0])
        for mark in ("Restoring state from changelog topics", "Done reading from changelog topics"):
            if mark in line and line.startswith("["):
                stamps[mark] = datetime.strptime(line[1:24], "%Y-%m-%d %H:%M:%S,%f")
    if len(stamps) < 2:
        return round(stage_s, 2)
    faust_s = (
        stamps["Done reading from changelog topics"]
        - stamps["Restoring state from changelog topics"]
    ).total_seconds()
    return round(stage_s + faust_s, 2)


def timed_start(
    stack_settings: StackSettings, topics: Topics, name: str, logs: Path, **extra: str
) -> tuple[RunningService, float]:
    """Start a worker; seconds until it processes a probe."""
    started = time.perf_counter()
    worker = start_worker(stack_settings, topics.prefix, name, logs, **extra)
    try:
        asyncio.run(probe(stack_settings.kafka_bootstrap, topics, worker, timeout_s=900))
    except BaseException:
        worker.stop()
        raise
    return worker, time.perf_counter() - started


def run_one(stack_settings: StackSettings, store: str, n: int, logs: Path) -> dict[str, object]:
    """Cold start, SIGKILL, restart: seconds to processing for one store and size."""
    prefix = f"bench{secrets.token_hex(3)}-"
    topics = Topics.with_prefix(prefix)
    stack.up(stack_settings, topics)
    bootstrap_servers = stack_settings.kafka_bootstrap
    settings = StreamsSettings(kafka_bootstrap=bootstrap_servers, topic_prefix=prefix)
    asyncio.run(declare_changelogs(changelog_specs(settings), bootstrap_servers))
    asyncio.run(fill_changelogs(bootstrap_servers, prefix, n))
    data_dir = tempfile.mkdtemp(prefix="recovery-bench-")
    extra = {"table_store": f"{store}://", "data_dir": data_dir}
    worker = None
    try:
        worker, cold_s = timed_start(stack_settings, topics, f"{store}-{n}-cold", logs, **extra)
        worker.process.kill()
        worker.process.wait()
        evicted = time.perf_counter()
        for group in (settings.app_group, settings.deliveries_group):
            left = asyncio.run(wait_until_empty(bootstrap_servers, group, timeout_s=300))
            assert not left.members, left
        eviction_s = time.perf_counter() - evicted
        worker, restart_s = timed_start(
            stack_settings, topics, f"{store}-{n}-restart", logs, **extra
        )
    finally:
        if worker is not None:
            worker.stop()
        asyncio.run(delete_prefixed_topics(bootstrap_servers, prefix))
    return {
        "store": store,
        "keys": n,
        "cold_s": round(cold_s, 2),
        "eviction_wait_s": round(eviction_s, 1),
        "after_kill_s": round(restart_s, 2),
        "cold_changelog_read_s": changelog_read_s(logs / f"{store}-{n}-cold.log"),
        "after_kill_changelog_read_s": changelog_read_s(logs / f"{store}-{n}-restart.log"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--stores", nargs="+", default=["memory", "rocksdb"])
    args = parser.parse_args()
    stack_settings = StackSettings()
    stack.up(stack_settings)
    logs = Path(tempfile.mkdtemp(prefix="recovery-bench-logs-"))
    results = []
    for n in args.keys:
        for store in args.stores:
            result = run_one(stack_settings, store, n, logs)
            print(json.dumps(result), flush=True)
            results.append(result)
    for n in args.keys:
        by_store = {r["store"]: r for r in results if r["keys"] == n}
        if {"memory", "rocksdb"} <= set(by_store):
            memory, rocksdb = by_store["memory"], by_store["rocksdb"]
            ratio = float(str(memory["after_kill_s"])) / float(str(rocksdb["after_kill_s"]))
            print(json.dumps({"keys": n, "after_kill_memory_over_rocksdb": round(ratio, 2)}))
    print(
        json.dumps({"python": platform.python_version(), "logs": str(logs), "cpus": os.cpu_count()})
    )


if __name__ == "__main__":
    main()
