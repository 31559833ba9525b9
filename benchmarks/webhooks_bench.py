"""Webhooks: messages per second from one notifier process, and event-to-receiver latency.

Issue 23 asks for the notifications per second one notifier process sends and the p99
from the event in Kafka to the receiver at the end-to-end benchmark's delivery rate (about
42 deliveries a second at 10,000 drones, four to seven events each: ~170-300 events/s).
This runs, on the local stack, a notifier process (`python -m notifier`, its own topics
and database) and a real HTTP receiver (uvicorn, in this process, answering 200 at once),
registers endpoints, then:

1. paced: delivery events produced at `--rate` a second for `--duration` seconds (each
   delivery's four events in order, deliveries interleaved); latency is the receiver's
   arrival time minus the event's `recorded_at` (stamped as it is produced), so it holds
   the broker, the notifier's fold and outbox write, the dispatch and the post;
2. burst: `--burst` events produced at once; messages/s is their count over the time from
   the first produce to the last arrival (the notifier's ceiling on this machine).

The notifier's CPU is read with psutil. Run from the repository root with the stack up:
`python benchmarks/webhooks_bench.py [--rate 200] [--duration 60] [--burst 20000]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import statistics
import sys
import time
from collections import deque
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil
from aiokafka import AIOKafkaProducer

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from contracts import Topics, encode_event, utc_now
from devstack import stack
from devstack.postgres import PostgresNode
from devstack.settings import StackSettings
from tests.support.webhooks import (
    Receiver,
    delivery_story,
    endpoint_registered,
    notifier_process,
    notifier_settings,
    receiving,
    rows,
)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def latencies_ms(receiver: Receiver, since: int) -> list[float]:
    out = []
    for got in receiver.got[since:]:
        recorded = datetime.fromisoformat(got.payload["timestamp"]).timestamp()
        out.append((got.at - recorded) * 1000.0)
    return out


async def produce_paced(
    producer: AIOKafkaProducer,
    topic: str,
    business: str,
    rate: float,
    duration: float,
    in_flight: int,
) -> int:
    """Deliveries' events at `rate` a second (recorded as sent), for `duration` seconds.

    `in_flight` deliveries are under way at once, their events interleaved: a delivery's
    messages go one after the other (in order), so this bounds how many can be posted at
    once to one endpoint, as the deliveries in flight do on the platform.
    """
    sent = 0
    started = time.monotonic()
    flying: deque[list[Any]] = deque()
    while time.monotonic() - started < duration:
        due = int((time.monotonic() - started) * rate) - sent
        for _ in range(due):
            while len(flying) < in_flight:
                flying.append(list(reversed(delivery_story(business, secrets.token_hex(8)))))
            story = flying.popleft()
            event = story.pop()
            event = type(event)(**{**_fields(event), "recorded_at": utc_now()})
            await producer.send(topic, encode_event(event), key=event.delivery_id.encode())
            sent += 1
            if story:
                flying.append(story)
        await asyncio.sleep(0.005)
    await producer.flush()
    return sent


async def produce_burst(producer: AIOKafkaProducer, topic: str, business: str, count: int) -> None:
    for _ in range(count // 4):
        for event in delivery_story(business, secrets.token_hex(8)):
            await producer.send(topic, encode_event(event), key=event.delivery_id.encode())
    await producer.flush()


def _fields(event: object) -> dict[str, Any]:
    return {name: getattr(event, name) for name in event.__struct_fields__}  # type: ignore[attr-defined]


async def wait_until(predicate: Any, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--burst", type=int, default=20_000)
    parser.add_argument("--endpoints", type=int, default=1)
    parser.add_argument("--in-flight", type=int, default=200, help="deliveries under way at once")
    parser.add_argument(
        "--concurrency", type=int, default=None, help="per endpoint (default: the setting's)"
    )
    args = parser.parse_args()

    settings = StackSettings()
    topics = Topics.with_prefix(f"bench{secrets.token_hex(3)}-")
    stack.up(settings, topics)
    node = PostgresNode(settings)
    database = f"bench_{secrets.token_hex(4)}"
    node.ensure_database(database)
    try:
        asyncio.run(run(args, settings, topics, settings.dsn_for(database)))
    finally:
        node.drop_database(database)


async def run(args: argparse.Namespace, settings: StackSettings, topics: Topics, dsn: str) -> None:
    log = settings.home / "bench-logs" / "webhooks-notifier.log"
    result: dict[str, Any] = {
        "rate": args.rate,
        "duration_s": args.duration,
        "burst": args.burst,
        "in_flight": args.in_flight,
    }
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, linger_ms=5)
    await producer.start()
    try:
        async with receiving() as receiver:
            extra = (
                {} if args.concurrency is None else {"per_endpoint_concurrency": args.concurrency}
            )
            notifier = notifier_settings(
                settings.kafka_bootstrap, topics, dsn, retry_schedule_s=(1.0, 5.0), **extra
            )
            result["per_endpoint_concurrency"] = notifier.per_endpoint_concurrency
            with notifier_process(notifier, log) as process:
                cpu = psutil.Process(process.pid)
                for n in range(args.endpoints):
                    event = endpoint_registered("bench", f"e{n}", receiver.url(f"/e{n}"))
                    await producer.send_and_wait(
                        topics.businesses.name, encode_event(event), key=b"bench"
                    )
                await wait_until(
                    lambda: (
                        len(_safe_rows(dsn, "SELECT 1 FROM notifier.endpoints")) == args.endpoints
                    ),
                    60,
                )
                # paced
                cpu.cpu_times()
                cpu_before = sum(cpu.cpu_times()[:2])
                sent = await produce_paced(
                    producer,
                    topics.deliveries.name,
                    "bench",
                    args.rate,
                    args.duration,
                    args.in_flight,
                )
                expected = sent * args.endpoints
                done = await wait_until(lambda: len(receiver.got) >= expected, 120)
                lat = latencies_ms(receiver, 0)
                result["paced"] = {
                    "events": sent,
                    "messages": len(receiver.got),
                    "all_arrived": done,
                    "p50_ms": round(percentile(lat, 0.50), 1),
                    "p99_ms": round(percentile(lat, 0.99), 1),
                    "max_ms": round(max(lat), 1),
                    "mean_ms": round(statistics.fmean(lat), 1),
                    "notifier_cpu_pct": round(
                        100 * (sum(cpu.cpu_times()[:2]) - cpu_before) / args.duration, 1
                    ),
                }
                print(json.dumps({"phase": "paced", **result["paced"]}), flush=True)
                # burst
                base = len(receiver.got)
                started = time.time()
                cpu_before = sum(cpu.cpu_times()[:2])
                await produce_burst(producer, topics.deliveries.name, "bench", args.burst)
                expected = base + (args.burst // 4) * 4 * args.endpoints
                done = await wait_until(lambda: len(receiver.got) >= expected, 600)
                last = max(r.at for r in receiver.got[base:])
                took = last - started
                lat = latencies_ms(receiver, base)
                result["burst"] = {
                    "messages": len(receiver.got) - base,
                    "all_arrived": done,
                    "seconds": round(took, 2),
                    "messages_per_s": round((len(receiver.got) - base) / took, 1),
                    "p50_ms": round(percentile(lat, 0.50), 1),
                    "p99_ms": round(percentile(lat, 0.99), 1),
                    "notifier_cpu_pct": round(
                        100 * (sum(cpu.cpu_times()[:2]) - cpu_before) / took, 1
                    ),
                }
                print(json.dumps({"phase": "burst", **result["burst"]}), flush=True)
                duplicates = len(receiver.got) - len({r.message_id for r in receiver.got})
                result["duplicates"] = duplicates
    finally:
        await producer.stop()
    result["load_average"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(result), flush=True)


def _safe_rows(dsn: str, query: str) -> list[tuple[Any, ...]]:
    try:
        return rows(dsn, query)
    except Exception:
        return []


if __name__ == "__main__":
    main()
