"""Websocket fan-out: N clients on one API process, each following one delivery at 1 Hz.

Why this exists: every API process consumes the tracking topic itself and fans out in
process. The question is how many customers one process serves with a p99 delivery
latency (tracking event produced to client received) under 250 ms; the goal is 5,000.

One run, on a fresh tracking topic of 4 partitions (created here, deleted at the end),
measures two servers one after the other, with the same clients and the same messages:

- api: the real thing. `api.main.create_app` served by uvicorn with the CLI's own
  configuration (`api.cli.server_config`, `listening_socket`), so the tracking hub,
  token and Origin checks, the per-client coalescing queues and FastAPI's websocket
  route are all in the path. Access logs off (they log connections, not messages).
- bare: a `websockets` server (its asyncio implementation) with an aiokafka consumer
  reading the same topic the same way (every partition, from the end) and
  `websockets.broadcast` of the same JSON frame (built by the API's own
  `api.routes.tracking.message`, so the frames are byte-identical) to the delivery's
  connections. No framework, no queues, no auth: the floor for this fan-out in Python.
- bare-frozen: the same bare server with the API's collector settings (the periodic
  `gc.freeze` of `runtime.gc_freeze`, with `GcFreezeSettings`' defaults, as the API
  runs it), so that the comparison with the API is like for like: bare against api
  shows what the framework costs with each server as people would write it,
  bare-frozen against api what it costs with the same collector (issue 20, part 4).

Each server runs in its own process; so do the clients (all N in one asyncio process,
each offering the API's subprotocols with a valid token) and the producer
(`TrackingUpdated` for N deliveries, each once per second, spread evenly over the
second, stamped with the time it is produced). A client's latency is the time it
received a frame minus the `observed_at` stamped in it (one machine, one clock).
Latencies count during `--duration` seconds after `--warmup` seconds.

Run from the repository root with the local stack up:
`python benchmarks/ws_fanout_bench.py [--clients 5000] [--duration 30] [--warmup 10]`.
Each process needs a file descriptor per client: the script raises its soft limit to
the hard one (`ulimit -n`; 20,000 on the benchmark VM).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import platform
import resource
import secrets
import signal
import subprocess
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import psutil
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from contracts import DecodeError, Topics, TrackingUpdated, decode_event, encode_event
from devstack.kafka import create_topics
from devstack.postgres import PostgresNode
from devstack.settings import StackSettings
from kafkaio.admin import admin_client
from projections.migrate import migrate

BOOTSTRAP = "localhost:29092"
PARTITIONS = 4
P99_GOAL_MS = 250.0


def raise_fd_limit() -> int:
    """Lift the soft limit on open files to the hard one; return it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def delivery_ids(run: str, count: int) -> list[str]:
    return [f"bench-{run}-{index:05d}" for index in range(count)]


def say(**fields: Any) -> None:
    """One JSON line on stdout: how a role reports to the parent."""
    print(json.dumps(fields), flush=True)


# --- roles -------------------------------------------------------------------------


class KafkaLeg:
    """Produced-to-consumed latency of the records a server reads (the Kafka leg).

    The parent sends SIGUSR1 at the end of the measured window; the server then prints
    the percentiles of the records it consumed during the last `duration` seconds, and
    the garbage collector's pauses in that window (each stops the event loop).
    """

    def __init__(self, duration: float) -> None:
        self.duration = duration
        self.samples: list[tuple[float, float]] = []
        self.gc_pauses: list[tuple[float, int, float]] = []
        self._gc_started = 0.0
        gc.callbacks.append(self._on_gc)
        signal.signal(signal.SIGUSR1, lambda *_: self.report())

    def _on_gc(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
        else:
            pause = time.perf_counter() - self._gc_started
            self.gc_pauses.append((time.time(), info["generation"], pause))

    def record(self, update: TrackingUpdated) -> None:
        now = time.time()
        self.samples.append((now, now - update.occurred_at.timestamp()))

    def report(self) -> None:
        since = time.time() - self.duration
        ms = np.array([lag for at, lag in self.samples if at >= since] or [np.nan]) * 1000
        pauses = [(gen, pause * 1000) for at, gen, pause in self.gc_pauses if at >= since]
        say(
            kafka_p50_ms=float(np.percentile(ms, 50)),
            kafka_p99_ms=float(np.percentile(ms, 99)),
            gc_collections=len(pauses),
            gc_gen2_collections=sum(1 for gen, _ in pauses if gen == 2),
            gc_longest_ms=round(max((ms for _, ms in pauses), default=0.0), 1),
            gc_total_ms=round(sum(ms for _, ms in pauses), 1),
        )


async def serve_api(args: argparse.Namespace) -> None:
    import uvicorn

    from api.cli import listening_socket, server_config
    from api.main import create_app
    from api.settings import ApiSettings

    settings = ApiSettings(
        kafka_bootstrap=BOOTSTRAP,
        topic_prefix=args.prefix,
        database_url=args.database_url,
        token_secret=args.secret,
        host="127.0.0.1",
        port=args.port,
    )
    app = create_app(settings)
    server = uvicorn.Server(
        server_config(app, settings, log_level="warning", access_log=False, backlog=4096)
    )
    task = asyncio.create_task(server.serve(sockets=[listening_socket(settings)]))
    while not (server.started and app.state.services.hub.running):
        if task.done():
            raise SystemExit("the API did not start")
        await asyncio.sleep(0.1)
    hub = app.state.services.hub
    leg = KafkaLeg(args.duration)
    publish = hub.publish

    def timed_publish(update: TrackingUpdated) -> None:
        leg.record(update)
        publish(update)

    hub.publish = timed_publish
    say(ready=True, pid=os.getpid())
    await task


async def serve_bare_frozen(args: argparse.Namespace) -> None:
    """The bare server, its collector run as the API runs its own (`GcFreezeSettings`)."""
    from runtime import GcFreezeSettings

    freezing = GcFreezeSettings().freezing()
    if freezing is None:
        raise SystemExit("the collector settings turn freezing off: nothing to compare")
    collector = asyncio.create_task(freezing)
    try:
        await serve_bare(args)
    finally:
        collector.cancel()


async def serve_bare(args: argparse.Namespace) -> None:
    import websockets
    from websockets.asyncio.server import ServerConnection, serve

    from api.routes.tracking import message

    followers: dict[str, set[ServerConnection]] = defaultdict(set)

    async def handler(connection: ServerConnection) -> None:
        path = connection.request.path if connection.request else ""
        delivery_id = path.split("/")[3] if path.count("/") >= 4 else ""
        followers[delivery_id].add(connection)
        try:
            await connection.wait_closed()
        finally:
            followers[delivery_id].discard(connection)

    consumer = AIOKafkaConsumer(
        Topics.with_prefix(args.prefix).tracking.name,
        bootstrap_servers=BOOTSTRAP,
        enable_auto_commit=False,
        auto_offset_reset="latest",
    )
    await consumer.start()
    leg = KafkaLeg(args.duration)
    async with serve(
        handler,
        "127.0.0.1",
        args.port,
        subprotocols=["dronefleet.v1"],  # type: ignore[list-item]
        compression=None,
        max_size=4096,
        backlog=4096,
    ):
        say(ready=True, pid=os.getpid())
        async for record in consumer:
            if record.value is None:
                continue
            try:
                event = decode_event(record.value)
            except DecodeError:
                continue
            if isinstance(event, TrackingUpdated):
                leg.record(event)
                websockets.broadcast(followers.get(event.delivery_id, ()), message("update", event))


async def run_clients(args: argparse.Namespace) -> None:
    import websockets

    from api import tokens

    ids = delivery_ids(args.run, args.clients)
    now = datetime.now(UTC)
    latencies: list[float] = []
    window = [float("inf"), float("inf")]
    received = 0
    failed = 0
    connected: list[Any] = []
    all_tried = asyncio.Event()

    def tried() -> None:
        if len(connected) + failed == len(ids):
            all_tried.set()

    async def follow(delivery_id: str, ready: asyncio.Semaphore) -> None:
        nonlocal received, failed
        token = tokens.issue(args.secret, delivery_id, now, timedelta(hours=1))
        try:
            async with ready:
                connection = await websockets.connect(
                    f"ws://127.0.0.1:{args.port}/v1/deliveries/{delivery_id}/live",
                    subprotocols=["dronefleet.v1", f"bearer.{token}"],  # type: ignore[list-item]
                    origin="http://127.0.0.1:8000",  # type: ignore[arg-type]
                    compression=None,
                    open_timeout=120,
                    ping_interval=None,
                )
        except Exception as error:
            failed += 1
            if failed == 1:
                print(f"first failed connection: {error!r}", file=sys.stderr, flush=True)
            tried()
            return
        connected.append(connection)
        tried()
        async for frame in connection:
            at = time.time()
            if window[0] <= at < window[1]:
                observed = json.loads(frame)["observed_at"]
                latencies.append(at - datetime.fromisoformat(observed).timestamp())
                received += 1

    ready = asyncio.Semaphore(200)
    tasks = [asyncio.create_task(follow(d, ready)) for d in ids]
    await all_tried.wait()
    say(connected=len(connected), failed=failed)
    start = time.time() + args.warmup
    window[:] = [start, start + args.duration]
    await asyncio.sleep(args.warmup + args.duration + 0.5)
    ms = np.array(latencies) * 1000 if latencies else np.array([float("nan")])
    say(
        received=received,
        updates_per_s=received / args.duration,
        p50_ms=float(np.percentile(ms, 50)),
        p99_ms=float(np.percentile(ms, 99)),
        max_ms=float(ms.max()),
        window=window,
    )
    for task in tasks:
        task.cancel()
    os._exit(0)  # closing thousands of sockets politely is not what is measured


async def produce(args: argparse.Namespace) -> None:
    """Every delivery once per second, in 50 ticks a second, one batch per partition.

    Batches (aiokafka's `create_batch`) keep the producer's own cost per record low, so
    that it keeps the pace; a delivery always goes to the same partition (its index
    modulo the partition count), so its updates stay in order.
    """
    ids = delivery_ids(args.run, args.clients)
    topic = Topics.with_prefix(args.prefix).tracking.name
    producer = AIOKafkaProducer(bootstrap_servers=BOOTSTRAP, acks=1, max_batch_size=1 << 20)
    await producer.start()
    tick = 0.02
    per_tick = max(1, round(len(ids) * tick))
    sequence = 1
    cursor = 0
    next_tick = time.monotonic()
    deadline = next_tick + args.seconds
    while time.monotonic() < deadline:
        at = datetime.now(UTC)
        batches = [producer.create_batch() for _ in range(PARTITIONS)]
        for _ in range(per_tick):
            index = cursor
            cursor = (cursor + 1) % len(ids)
            update = TrackingUpdated(
                event_id=secrets.token_hex(8),
                sequence=sequence,
                occurred_at=at,
                recorded_at=at,
                delivery_id=ids[index],
                drone_id="drone-1",
                source_event_id="fix",
                lat=47.38,
                lon=8.54,
                altitude_m=60.0,
                ground_speed_mps=15.0,
                status="en_route_to_dropoff",
                remaining_m=800.0,
                eta=at + timedelta(seconds=60),
            )
            appended = batches[index % PARTITIONS].append(
                key=ids[index].encode(), value=encode_event(update), timestamp=None
            )
            assert appended is not None, "a batch is full: raise max_batch_size"
            if cursor == 0:
                sequence += 1
        for partition, batch in enumerate(batches):
            if batch.record_count():
                await producer.send_batch(batch, topic, partition=partition)
        next_tick += tick
        await asyncio.sleep(max(0.0, next_tick - time.monotonic()))
    await producer.stop()


# --- the parent ----------------------------------------------------------------------


def spawn(role: str, args: argparse.Namespace, **extra: Any) -> subprocess.Popen[str]:
    argv = [sys.executable, __file__, "--role", role]
    for name, value in {**vars(args), **extra}.items():
        if name not in ("role", "servers") and value is not None:
            argv += [f"--{name.replace('_', '-')}", str(value)]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)


def read_line(process: subprocess.Popen[str]) -> dict[str, Any]:
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        raise SystemExit(f"a role exited with {process.wait()}: {process.args!r}")
    result: dict[str, Any] = json.loads(line)
    return result


def measure(kind: str, args: argparse.Namespace) -> dict[str, Any]:
    """Start the server, then the clients, then the producer; return the clients' figures."""
    server = spawn(f"serve-{kind}", args)
    processes = [server]
    try:
        pid = read_line(server)["pid"]
        clients = spawn("clients", args)
        processes.append(clients)
        connected = read_line(clients)
        producer = spawn("produce", args, seconds=args.warmup + args.duration + 2)
        processes.append(producer)
        time.sleep(args.warmup)
        cpu = psutil.Process(pid).cpu_times()
        time.sleep(args.duration)
        cpu_after = psutil.Process(pid).cpu_times()
        server.send_signal(signal.SIGUSR1)
        kafka_leg = read_line(server)
        figures = read_line(clients)
        busy = (cpu_after.user + cpu_after.system) - (cpu.user + cpu.system)
        return {
            "server": kind,
            **connected,
            **figures,
            **kafka_leg,
            "server_cpu": busy / args.duration,
        }
    finally:
        for process in reversed(processes):
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            process.wait()


async def topic(prefix: str, create: bool) -> None:
    """Create the run's topics (all of them: the API reads the airspace and the businesses'
    keys at start, and waits for topics it cannot find), or delete them."""
    specs = Topics.with_prefix(prefix, partitions=PARTITIONS).all()
    if create:
        await create_topics(BOOTSTRAP, specs)
        return
    async with admin_client(BOOTSTRAP) as admin:
        await admin.delete_topics([spec.name for spec in specs])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--role", default="parent")
    parser.add_argument("--clients", type=int, default=5000)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--warmup", type=float, default=10.0)
    parser.add_argument("--servers", default="bare,bare-frozen,api")
    parser.add_argument("--port", type=int, default=18765)
    parser.add_argument("--prefix", default=None)
    parser.add_argument("--secret", default=None)
    parser.add_argument("--run", default=None)
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    limit = raise_fd_limit()
    roles = {
        "serve-api": serve_api,
        "serve-bare": serve_bare,
        "serve-bare-frozen": serve_bare_frozen,
        "clients": run_clients,
        "produce": produce,
    }
    if args.role in roles:
        asyncio.run(roles[args.role](args))
        return

    args.run = secrets.token_hex(3)
    args.prefix = f"bench{args.run}-"
    args.secret = secrets.token_hex(32)
    print(
        f"{args.clients} clients, 1 update/s each, {args.duration:.0f} s measured after"
        f" {args.warmup:.0f} s; open files limit {limit}; {platform.python_implementation()}"
        f" {platform.python_version()}, {os.cpu_count()} cores"
    )
    asyncio.run(topic(args.prefix, create=True))
    # The API reads the read model at a socket's handshake (a delivery's end, for its
    # token's life): a database of its own, migrated, dropped at the end.
    stack = StackSettings()
    node = PostgresNode(stack)
    database = f"bench_ws_{args.run}"
    node.ensure_database(database)
    args.database_url = stack.dsn_for(database)
    migrate(args.database_url)
    results = []
    try:
        for kind in args.servers.split(","):
            result = measure(kind, args)
            results.append(result)
            print(json.dumps(result))
    finally:
        asyncio.run(topic(args.prefix, create=False))
        node.drop_database(database)
    print()
    print(
        "| server | clients | updates/s | p50 ms | p99 ms | max ms"
        " | Kafka leg p50 / p99 ms | server CPU |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(
            f"| {r['server']} | {r['connected']:,} | {r['updates_per_s']:,.0f} | {r['p50_ms']:.1f}"
            f" | {r['p99_ms']:.1f} | {r['max_ms']:.0f}"
            f" | {r['kafka_p50_ms']:.1f} / {r['kafka_p99_ms']:.1f} | {r['server_cpu']:.0%} |"
        )
    by = {r["server"]: r for r in results}
    for floor in ("bare", "bare-frozen"):
        if "api" in by and floor in by:
            api, bare = by["api"], by[floor]
            print(
                f"\napi / {floor}: p50 {api['p50_ms'] / bare['p50_ms']:.2f}x,"
                f" p99 {api['p99_ms'] / bare['p99_ms']:.2f}x,"
                f" server CPU {api['server_cpu'] / bare['server_cpu']:.2f}x;"
                f" api p99 {'under' if api['p99_ms'] < P99_GOAL_MS else 'over'}"
                f" {P99_GOAL_MS:.0f} ms"
            )


if __name__ == "__main__":
    main()
