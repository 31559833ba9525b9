"""Telemetry events/s from one simulator process to the local broker, next to Kafka's own.

Why this exists: the simulator is the platform's load-test tool. If it cannot produce
faster than the platform consumes, a load test measures the simulator, not the
platform. The goal is 50,000 telemetry events/s from one process.

What is measured, in one run, on fresh topics of 4 partitions (created here with
aiokafka's admin client and deleted at the end):

- runner: the real thing. A `SimulatorRunner` (the CLI's code path) with every drone on
  a mission in the Zurich scenario, asked for far more than it can do (`--telemetry-hz`
  high), so it steps the engine, builds and encodes the fixes and produces them
  (acks=all, idempotent) back to back for DURATION_S seconds; events/s is the acked
  telemetry over the run's wall time.
- kafka: `org.apache.kafka.tools.ProducerPerformance` from the broker's own jars, same
  broker, same partition count, records of the same size as our telemetry (the mean
  encoded size of the runner's fixes), acks=all, unthrottled. It only sends
  pre-built random bytes, so it is the ceiling of what one producer gets here.

The ratio runner / kafka says how close the simulator gets to that ceiling.

Run from the repository root with the local stack up:
`python benchmarks/produce_bench.py [--drones 2000] [--duration 20] [--records 2000000]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import random
import re
import secrets
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from aiokafka.admin import NewTopic

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from contracts import DroneAssigned, TelemetryReported, Topics, encode_event
from kafkaio.admin import admin_client
from kafkaio.offsets import end_offsets
from simulator.adapters.runner import SimulatorRunner
from simulator.flight.engine import FleetEngine, FlightSpec
from simulator.settings import SimulatorSettings
from simulator.world.scenario import Scenario, default_scenario

ROOT = Path(__file__).resolve().parent.parent
BOOTSTRAP = "localhost:29092"
KAFKA_LIBS = ROOT / ".cache" / "kafka" / "4.1.1" / "libs"
PARTITIONS = 4
T0 = datetime(2026, 11, 27, 12, tzinfo=UTC)


def fleet_on_missions(scenario: Scenario, count: int, prefix: str) -> FleetEngine:
    """`count` drones, every one on a random mission in the scenario."""
    engine = FleetEngine.at_depots(
        count,
        scenario.depots,
        FlightSpec(),
        1,
        id_prefix=prefix,
        airspace=scenario.airspace,
        wind=scenario.wind,
    )
    rng = random.Random(2)
    for attempt in range(20):
        for index, drone_id in enumerate(engine.drone_ids):
            engine.assign(
                DroneAssigned(
                    event_id=f"a{attempt}-{index}",
                    sequence=2,
                    occurred_at=T0,
                    recorded_at=T0,
                    delivery_id=f"bench-{attempt}-{index}",
                    drone_id=drone_id,
                    pickup=scenario.random_point(rng),
                    dropoff=scenario.random_point(rng),
                )
            )
        if engine.in_flight() == count:
            break
    return engine


def telemetry_record_size(engine: FleetEngine) -> int:
    """The mean size in bytes of an encoded fix of this fleet (a copy is stepped)."""
    fixes = [r for r in engine.step(T0, 1.0) if isinstance(r, TelemetryReported)]
    sizes = [len(encode_event(fix)) for fix in fixes]
    return round(sum(sizes) / len(sizes))


async def create_topics(names: list[str]) -> None:
    async with admin_client(BOOTSTRAP) as admin:
        await admin.create_topics([NewTopic(n, PARTITIONS, 1) for n in names])
    await asyncio.sleep(1.0)  # let the leaders settle


async def delete_topics(names: list[str]) -> None:
    async with admin_client(BOOTSTRAP) as admin:
        await admin.delete_topics(names)


async def records_on(topic: str) -> int:
    """How many records the topic holds (sum of its partitions' end offsets)."""
    ends = await end_offsets(BOOTSTRAP, [(topic, p) for p in range(PARTITIONS)])
    return sum(ends.values())


async def runner_rate(prefix: str, drones: int, duration_s: float) -> dict[str, float]:
    """Acked telemetry events/s of a `SimulatorRunner` asked for more than it can send."""
    settings = SimulatorSettings(
        kafka_bootstrap=BOOTSTRAP,
        topic_prefix=prefix,
        drones=drones,
        drone_id_prefix="bench-",
        telemetry_hz=1_000.0,
        duration_s=duration_s,
    )
    engine = fleet_on_missions(default_scenario(), drones, "bench-")
    runner = SimulatorRunner(settings, engine, demand=None)
    started = time.monotonic()
    stats = await runner.run()
    elapsed = time.monotonic() - started
    return {
        "events": stats.telemetry_sent,
        "seconds": elapsed,
        "events_per_s": stats.telemetry_sent / elapsed,
        "send_errors": stats.send_errors,
        "ticks": stats.ticks,
    }


def kafka_rate(topic: str, records: int, record_size: int) -> dict[str, float]:
    """Kafka's ProducerPerformance on the same broker: records/s and MB/s of its summary."""
    command = [
        "java",
        "-cp",
        f"{KAFKA_LIBS}/*",
        "org.apache.kafka.tools.ProducerPerformance",
        "--topic",
        topic,
        "--num-records",
        str(records),
        "--record-size",
        str(record_size),
        "--throughput",
        "-1",
        "--producer-props",
        f"bootstrap.servers={BOOTSTRAP}",
        "acks=all",
    ]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    summary = output.strip().splitlines()[-1]
    match = re.search(r"([\d.]+) records/sec \(([\d.]+) MB/sec\)", summary)
    if match is None:
        raise RuntimeError(f"unexpected ProducerPerformance output: {summary}")
    return {"events_per_s": float(match.group(1)), "mb_per_s": float(match.group(2))}


def machine() -> str:
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    cores = len(
        [ln for ln in Path("/proc/cpuinfo").read_text().splitlines() if ln.startswith("processor")]
    )
    return f"{cores} cores, {cpu}, CPython {platform.python_version()}"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--drones", type=int, default=2_000)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--records", type=int, default=2_000_000)
    args = parser.parse_args()

    prefix = f"bench-{secrets.token_hex(4)}-"
    layout = Topics.with_prefix(prefix, partitions=PARTITIONS)
    kafka_topic = f"{prefix}kafka-perf"
    topics = [layout.telemetry.name, layout.deliveries.name, layout.delivery_commands.name]
    await create_topics([*topics, kafka_topic])
    try:
        size = telemetry_record_size(fleet_on_missions(default_scenario(), 100, "size-"))
        ours = await runner_rate(prefix, args.drones, args.duration)
        on_topic = await records_on(layout.telemetry.name)
        if on_topic != ours["events"]:
            raise RuntimeError(f"{ours['events']} events acked but {on_topic} on the topic")
        theirs = kafka_rate(kafka_topic, args.records, size)
    finally:
        await delete_topics([*topics, kafka_topic])
    result = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "drones": args.drones,
        "record_size_bytes": size,
        "runner": ours,
        "kafka_producer_performance": theirs,
        "ratio": ours["events_per_s"] / theirs["events_per_s"],
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
