"""Faust's per-record path against a bare aiokafka consumer, on the same topic.

Why this exists: the decision to keep faust-streaming as the worker's framework but run
the hot stages (the telemetry gate, the deliveries fold) as batched aiokafka loops
(docs/decisions/0001-faust-and-batched-stages.md) rests on one measurement: how many
records per second a Faust agent can take in at all, when it does nothing with them.
If an upgrade of Faust changes that figure, this is the command that says so.

What it does: on a private topic prefix (`fbench<hex>-`, deleted at the end) it fills
the 4-partition telemetry topic with N realistic fixes (about 400 bytes each, 1,000
drones), then times, each in a fresh process and a fresh consumer group reading from
offset 0:

- `faust`: a Faust agent that only counts records (`async for _ in stream`), on the
  worker's own app class (`DronefleetApp`: the same transport and consumer bends), raw
  bytes, no decoding, memory table store;
- `faust-take`: the same agent, batched with `stream.take(1000, within=1.0)`;
- `aiokafka`: a bare `AIOKafkaConsumer` in a consumer group, `getmany` and count;
- `aiokafka-decode`: the same, decoding each record with `contracts.decode_event` (the
  baseline of benchmarks/streams_throughput_bench.py: what a Python consumer can do with
  the records at best).

Each figure is the records after the first delivery (the first record, or the first
batch) over the time from that delivery to the Nth record, so process start-up, the
group join and whatever was fetched before the clock started are not counted; a
configuration that has not counted N
records after `--timeout` seconds is reported as stalled with its count. Runs go round
the three configurations `--runs` times (interleaved, so a change of load on a shared
machine hits all three alike); the summary gives the median and the worst run of each
and the ratio of the medians. Run from the repository root with the stack up:
`python benchmarks/faust_agent_bench.py [--records 200000] [--runs 3] [--out FILE]`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiokafka
import faust
from aiokafka import AIOKafkaConsumer
from streams_throughput_bench import fill, fixes
from table_recovery_bench import delete_prefixed_topics

from contracts import Topics, decode_event
from devstack import stack
from devstack.settings import StackSettings
from streams.runtime.faust_bends import DronefleetApp

MODES = ("faust", "faust-take", "aiokafka", "aiokafka-decode")
TAKE = 1000
"""Records per batch of `stream.take` (within 1 s): what a batched agent would ask for."""


class Clock:
    """First and last record times of a count to N."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.counted = 0
        self.first: float | None = None
        self.untimed = 0
        """Records of the first delivery: fetched before the clock started."""
        self.last: float | None = None
        self.done = asyncio.Event()

    def add(self, records: int) -> None:
        if self.first is None:
            self.first = time.perf_counter()
            self.untimed = records
        self.counted += records
        if self.counted >= self.n and self.last is None:
            self.last = time.perf_counter()
            self.done.set()

    def result(self, mode: str) -> dict[str, Any]:
        if self.first is None or self.last is None:
            return {"mode": mode, "stalled": True, "counted": self.counted}
        seconds = self.last - self.first
        timed = self.counted - self.untimed
        return {
            "mode": mode,
            "records": self.counted,
            "timed_records": timed,
            "seconds": round(seconds, 3),
            "records_per_s": round(timed / seconds),
        }


async def count_with_faust(
    clock: Clock, bootstrap: str, topic: str, group: str, take: bool
) -> None:
    """A Faust agent counting the topic's records, one by one or in batches."""
    app = DronefleetApp(
        group,
        broker=f"kafka://{bootstrap}",
        store="memory://",
        datadir=tempfile.mkdtemp(prefix="faust-agent-bench-"),
        web_enabled=False,
        consumer_auto_offset_reset="earliest",
        topic_allow_declare=False,
    )
    source = app.topic(
        topic, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
    )

    async def per_record(stream: Any) -> None:
        async for _ in stream:
            clock.add(1)

    async def batched(stream: Any) -> None:
        async for batch in stream.take(TAKE, within=1.0):
            clock.add(len(batch))

    app.agent(source, name="count")(batched if take else per_record)
    await app.start()
    try:
        await clock.done.wait()
    finally:
        await app.stop()


async def count_with_aiokafka(
    clock: Clock, bootstrap: str, topic: str, group: str, decode: bool
) -> None:
    """A bare aiokafka consumer in a group, counting (or decoding) what `getmany` returns."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        while not clock.done.is_set():
            batches = await consumer.getmany(timeout_ms=200, max_records=10_000)
            for records in batches.values():
                if decode:
                    for record in records:
                        decode_event(record.value or b"")
                clock.add(len(records))
    finally:
        await consumer.stop()


async def measure_one(clock: Clock, args: argparse.Namespace) -> None:
    if args.one.startswith("aiokafka"):
        decode = args.one == "aiokafka-decode"
        await count_with_aiokafka(clock, args.bootstrap, args.topic, args.group, decode)
    else:
        take = args.one == "faust-take"
        await count_with_faust(clock, args.bootstrap, args.topic, args.group, take)


def one(args: argparse.Namespace) -> None:
    """The child process: one configuration, one run; prints its JSON result."""
    clock = Clock(args.records)

    async def bounded() -> None:
        with contextlib.suppress(TimeoutError):  # reported as stalled, with its count
            await asyncio.wait_for(measure_one(clock, args), args.timeout)

    asyncio.run(bounded())
    print(json.dumps(clock.result(args.one)), flush=True)


def run_child(
    settings: StackSettings, topic: str, n: int, mode: str, group: str, timeout: float
) -> dict[str, Any]:
    argv = [
        sys.executable,
        __file__,
        "--one",
        mode,
        "--bootstrap",
        settings.kafka_bootstrap,
        "--topic",
        topic,
        "--records",
        str(n),
        "--group",
        group,
        "--timeout",
        str(timeout),
    ]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout + 120, check=True)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def summary(results: list[dict[str, Any]]) -> dict[str, Any]:
    by_mode: dict[str, Any] = {}
    for mode in MODES:
        rates = [r["records_per_s"] for r in results if r["mode"] == mode and "records_per_s" in r]
        stalled = sum(1 for r in results if r["mode"] == mode and r.get("stalled"))
        by_mode[mode] = {
            "median_records_per_s": round(statistics.median(rates)) if rates else None,
            "worst_records_per_s": min(rates) if rates else None,
            "runs": len(rates),
            "stalled_runs": stalled,
        }
    bare = by_mode["aiokafka"]["median_records_per_s"]
    for mode in ("faust", "faust-take", "aiokafka-decode"):
        median = by_mode[mode]["median_records_per_s"]
        by_mode[mode]["median_vs_aiokafka"] = round(median / bare, 4) if median and bare else None
    return by_mode


def machine() -> dict[str, Any]:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "cores": os.cpu_count(),
        "cpu": model,
        "python": platform.python_version(),
        "faust": faust.__version__,
        "aiokafka": aiokafka.__version__,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=300.0, help="per run, in seconds")
    parser.add_argument("--out", type=Path, help="also write every line printed to this file")
    parser.add_argument("--one", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--bootstrap", help=argparse.SUPPRESS)
    parser.add_argument("--topic", help=argparse.SUPPRESS)
    parser.add_argument("--group", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        one(args)
        return
    lines: list[str] = []

    def say(record: dict[str, Any]) -> None:
        line = json.dumps(record)
        print(line, flush=True)
        lines.append(line)

    settings = StackSettings()
    prefix = f"fbench{secrets.token_hex(3)}-"
    topics = Topics.with_prefix(prefix)
    stack.up(settings, topics)
    try:
        say({"machine": machine(), "records": args.records, "topic": topics.telemetry.name})
        asyncio.run(fill(settings.kafka_bootstrap, fixes(topics, args.records, datetime.now(UTC))))
        results = []
        for run in range(1, args.runs + 1):
            for mode in MODES:
                load = os.getloadavg()[0]
                group = f"{prefix}{mode}-{run}"
                result = run_child(
                    settings, topics.telemetry.name, args.records, mode, group, args.timeout
                )
                result.update({"run": run, "load_average_before": round(load, 2)})
                say(result)
                results.append(result)
        say({"summary": summary(results)})
    finally:
        asyncio.run(delete_prefixed_topics(settings.kafka_bootstrap, prefix))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
