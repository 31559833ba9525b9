"""`make bench-e2e`: the whole platform at 1,000, 5,000 and 10,000 drones at 1 Hz.

Per level, on a private stack with fresh topics and a fresh database: the sink, the
stream worker(s) and the API start; the simulator flies N drones for `duration_s` with
demand through the API; `followers` customers request deliveries and follow them over
the websocket. Measured over the window after a warm-up:
- telemetry events/s produced (the telemetry topic's end offsets), processed by the
  stream workers and written by the sink (their committed offsets);
- end-to-end latency p50/p99: fix built by the simulator -> update on a customer socket;
- consumer lag of the workers and of the sink when the simulator stops;
- events lost: fixes the simulator had acknowledged and the telemetry table lacks,
  once the sink has drained (or what is still missing when the drain times out);
- CPU and memory per process (psutil).
Then the scale-out ratio: the same level with two stream workers against one.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from loadtest.chaos import consumed_topics
from loadtest.followers import Followers, percentile
from loadtest.hops import read_hops, summarize
from loadtest.lagwatch import LagWatch, Sample, wait_drained
from loadtest.platform import Platform, pid_of_kafka, postmaster_pid
from loadtest.private_stack import PrivateStack, private_settings
from loadtest.profile import Profiler
from loadtest.report import table
from loadtest.sampler import ProcessSampler

WARMUP_S = 10.0


@dataclass(frozen=True, slots=True)
class BenchPlan:
    """What to run: drone counts, seconds per level, customers, the scale-out level."""

    levels: list[int]
    duration_s: float = 60.0
    followers: int = 50
    scale_out_level: int | None = None
    demand_ratio: float = 0.25
    """Delivery requests per minute per drone (the aggregate's and the API's share)."""
    profile_dir: Path | None = None
    """Where to write py-spy profiles of the Python services; None: no profiling."""
    cohorts: int | None = None
    """The simulator's `--cohorts`; None: its default (the fleet spread over the second)."""


def run_bench(plan: BenchPlan, home: Path | None, logs: Path, out: Path) -> str:
    """Run every level (and the scale-out pair); write JSON and markdown; return the markdown."""
    stack = PrivateStack(private_settings(home), remove_home=home is None)
    results: list[dict[str, Any]] = []
    try:
        stack.up()
        for drones in plan.levels:
            results.append(run_level(stack, plan, drones, workers=1, logs=logs))
            _write(results, out)
        if plan.scale_out_level:
            results.append(run_level(stack, plan, plan.scale_out_level, workers=2, logs=logs))
    finally:
        stack.down()
    return _write(results, out)


def run_level(
    stack: PrivateStack, plan: BenchPlan, drones: int, workers: int, logs: Path
) -> dict[str, Any]:
    """One level: start, load, measure, drain, count; return its figures."""
    label = f"bench{drones}w{workers}"
    topics = stack.new_topics(label)
    database = stack.new_database(label)
    platform = Platform(stack.settings, database, topics.prefix, logs / label)
    bootstrap = stack.settings.kafka_bootstrap
    groups = [
        platform.gate_group,
        platform.deliveries_group,
        platform.streams_group,
        platform.sink_group,
    ]
    platform.start(workers=workers)
    demand = drones * plan.demand_ratio
    args = ["--drones", str(drones), "--duration", str(plan.duration_s)]
    args += ["--demand-per-minute", str(demand)]
    if plan.cohorts is not None:
        args += ["--cohorts", str(plan.cohorts)]

    def roots() -> dict[str, int]:
        pids = platform.pids()
        kafka = pid_of_kafka(stack.settings)
        postgres = postmaster_pid(stack.postgres.data_dir)
        return {
            **pids,
            **({"kafka": kafka} if kafka else {}),
            **({"postgres": postgres} if postgres else {}),
        }

    try:
        with (
            LagWatch(bootstrap, groups) as watch,
            Followers(platform.config.api_url, platform.business_key, plan.followers) as fans,
        ):
            platform.start_simulator(args)
            t0 = time.monotonic()
            time.sleep(WARMUP_S)
            fans.measuring.set()
            profiler = None
            if plan.profile_dir is not None and Profiler.available():
                profiler = Profiler(plan.profile_dir / label, plan.duration_s - WARMUP_S - 2)
                profiler.start({n: p for n, p in platform.pids().items() if n != "simulator"})
            with ProcessSampler(roots) as sampler:
                simulator = platform.services["simulator"]
                while simulator.alive() and time.monotonic() < t0 + plan.duration_s + 60:
                    time.sleep(0.5)
            fans.measuring.clear()
            profile = profiler.finish() if profiler is not None else {}
            window_end = time.monotonic()
            summary = platform.wait_simulator(30.0)
            drained = wait_drained(bootstrap, consumed_topics(platform, topics), timeout_s=180)
            drain_s = time.monotonic() - window_end
        gate = _window(watch.series[platform.gate_group], t0 + WARMUP_S, window_end)
        streams = _window(watch.series[platform.deliveries_group], t0 + WARMUP_S, window_end)
        sink = _window(watch.series[platform.sink_group], t0 + WARMUP_S, window_end)
        rows, distinct = _telemetry_rows(stack.settings.dsn_for(database))
        hops = summarize(asyncio.run(read_hops(bootstrap, topics)))
    finally:
        platform.stop()
    stack.postgres.drop_database(database)
    stack.delete_topics(topics)
    sent = int(summary.get("telemetry_sent", 0))
    telemetry = topics.telemetry.name
    return {
        "drones": drones,
        "workers": workers,
        "duration_s": plan.duration_s,
        "asked_per_s": drones,
        "produced_per_s": _rate(gate, telemetry, "end"),
        "streams_per_s": _rate(gate, telemetry, "committed"),
        "deliveries_per_s": _rate(streams, topics.delivery_telemetry.name, "committed"),
        # The sink projects what the gate accepted (issue 18), not the raw topic.
        "sink_per_s": _rate(sink, topics.accepted_telemetry.name, "committed"),
        "latency_p50_ms": percentile(fans.latencies_ms, 50),
        "latency_p99_ms": percentile(fans.latencies_ms, 99),
        "latency_samples": len(fans.latencies_ms),
        "followers_connected": fans.connected,
        "hops": hops,
        "gate_lag_at_end": gate[-1].lag if gate else None,
        "deliveries_lag_at_end": streams[-1].lag if streams else None,
        "streams_lag_at_end": gate[-1].lag + streams[-1].lag if gate and streams else None,
        "sink_lag_at_end": sink[-1].lag if sink else None,
        "drain_s": round(drain_s, 1),
        "lag_after_drain": drained,
        "telemetry_sent": sent,
        "telemetry_rows": rows,
        "duplicate_rows": rows - distinct,
        "lost": sent - distinct,
        "simulator": summary,
        "processes": sampler.summary(),
        "load_average_1m_at_end": round(os.getloadavg()[0], 1),
        "profile": profile,
    }


def _window(samples: list[Sample], start: float, end: float) -> list[Sample]:
    return [s for s in samples if start <= s.at <= end]


def _rate(samples: list[Sample], topic: str, which: str) -> float | None:
    """Records/s of one topic over the window, from end or committed offsets."""
    if len(samples) < 2:
        return None
    first, last = samples[0], samples[-1]

    def total(sample: Sample) -> int:
        offsets = sample.end if which == "end" else sample.committed
        return sum(v for (t, _), v in offsets.items() if t == topic)

    return round((total(last) - total(first)) / max(last.at - first.at, 1e-9), 1)


def _telemetry_rows(dsn: str) -> tuple[int, int]:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT count(*), count(DISTINCT (drone_id, sequence)) FROM telemetry"
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def markdown(results: list[dict[str, Any]]) -> str:
    """The level table, the process table and the scale-out ratio."""
    levels = table(
        [
            "drones",
            "workers",
            "asked/s",
            "produced/s",
            "gate/s",
            "deliveries/s",
            "sink/s",
            "p50 ms",
            "p99 ms",
            "latency samples",
            "streams lag at end",
            "sink lag at end",
            "drain s",
            "lost",
            "duplicate rows",
            "load avg",
        ],
        [
            [
                r["drones"],
                r["workers"],
                r["asked_per_s"],
                r["produced_per_s"],
                r["streams_per_s"],
                r.get("deliveries_per_s"),
                r["sink_per_s"],
                r["latency_p50_ms"],
                r["latency_p99_ms"],
                r["latency_samples"],
                r["streams_lag_at_end"],
                r["sink_lag_at_end"],
                r["drain_s"],
                r["lost"],
                r["duplicate_rows"],
                r.get("load_average_1m_at_end"),
            ]
            for r in results
        ],
    )
    names = sorted({name for r in results for name in r["processes"]})
    processes = table(
        ["drones", "workers", *names],
        [
            [
                r["drones"],
                r["workers"],
                *(
                    "{cpu_pct:.0f} % / {max_rss_mib:.0f} MiB".format(**r["processes"][n])
                    if n in r["processes"]
                    else "-"
                    for n in names
                ),
            ]
            for r in results
        ],
    )
    text = f"{levels}\n\nCPU (mean, 100 % = one core) / peak RSS per process:\n\n{processes}\n"
    hop_names = sorted({name for r in results for name in r.get("hops", {})})
    hops = table(
        ["drones", "workers", *hop_names],
        [
            [
                r["drones"],
                r["workers"],
                *(
                    "{p50_ms} / {p99_ms}".format(**r["hops"][n]) if n in r.get("hops", {}) else "-"
                    for n in hop_names
                ),
            ]
            for r in results
        ],
    )
    text += f"\nLatency by hop, p50 / p99 ms (from Kafka record timestamps):\n\n{hops}\n"
    for r in results:
        for name, functions in r.get("profile", {}).items():
            text += (
                f"\nProfile of {name} at {r['drones']:,} drones, {r['workers']} worker(s)"
                " (py-spy; self % / inclusive % of samples):\n\n"
                + table(["function", "self %", "total %"], [list(f) for f in functions[:8]])
                + "\n"
            )
    pair = _scale_out(results)
    if pair is not None:
        one, two = pair
        ratio = (two["streams_per_s"] or 0) / max(one["streams_per_s"] or 0, 1e-9)
        text += (
            f"\nScale-out at {one['drones']:,} drones: two workers process "
            f"{two['streams_per_s']} events/s against {one['streams_per_s']} for one: "
            f"ratio {ratio:.2f}x (p99 {two['latency_p99_ms']} ms against "
            f"{one['latency_p99_ms']} ms; lag at end {two['streams_lag_at_end']} against "
            f"{one['streams_lag_at_end']}).\n"
        )
    return text


def _scale_out(results: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]] | None:
    twos = [r for r in results if r["workers"] == 2]
    if not twos:
        return None
    ones = [r for r in results if r["workers"] == 1 and r["drones"] == twos[0]["drones"]]
    return (ones[0], twos[0]) if ones else None


def _write(results: list[dict[str, Any]], out: Path) -> str:
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    (out / "bench-e2e.json").write_text(
        json.dumps({"date": stamp, "results": results}, indent=2, default=str)
    )
    text = f"End-to-end benchmark of {stamp}\n\n{markdown(results)}"
    (out / "bench-e2e.md").write_text(text)
    return text
