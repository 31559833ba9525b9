"""`make bench-e2e`: the whole platform at 1,000, 5,000 and 10,000 drones at 1 Hz.

Per level, on a private stack with fresh topics and a fresh database: the sink, the
stream worker(s) and the API start; the simulator flies N drones for `duration_s` with
demand through the API; `followers` customers request deliveries and follow them over
the websocket. Measured over the window after a warm-up:
- telemetry events/s produced (the telemetry topic's end offsets), processed by the
  stream workers and written by the sink (their committed offsets);
- latency over every update (the headline): fix built by the simulator -> its update
  in the tracking topic, by Kafka's record timestamps, for every update whose fix was
  built inside the window (`loadtest.hops`); the sample is every delivery in flight,
  not only the followed ones;
- latency to a customer's socket p50/p99: fix built -> update on a followed socket
  (what the API's fan-out adds on top);
- consumer lag of the workers and of the sink when the simulator stops;
- losses by identity, once the sink has drained (`loadtest.ledger`): the fixes the
  simulator had acknowledged against the distinct (drone, sequence) in the telemetry
  topic; every accepted fix's identity against the rows of `telemetry`; every fix on a
  mission against `delivery-telemetry` by event id; a surplus cannot hide a loss;
- CPU and memory per process (psutil).
`runs` repeats each level; the report gives each run, then the median and the worst
run by the every-update p99. Then the scale-out ratio: the same level with two stream
workers against one.
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
from loadtest.ledger import Observed, account, collect_sync
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
    runs: int = 1
    """Consecutive runs of each level (issue 20 asks for five): median and worst reported."""
    api_replicas: int = 1
    """API processes; the followers are spread over them (each served by one)."""


def run_bench(plan: BenchPlan, home: Path | None, logs: Path, out: Path) -> str:
    """Run every level (and the scale-out pair); write JSON and markdown; return the markdown."""
    stack = PrivateStack(private_settings(home), remove_home=home is None)
    results: list[dict[str, Any]] = []
    try:
        stack.up()
        for drones in plan.levels:
            for run in range(1, plan.runs + 1):
                result = run_level(stack, plan, drones, workers=1, logs=logs / f"run{run}")
                results.append({**result, "run": run})
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
    label = f"bench{drones}w{workers}a{plan.api_replicas}"
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
    platform.start(workers=workers, api_replicas=plan.api_replicas)
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
            Followers(platform.api_urls, platform.business_key, plan.followers) as fans,
        ):
            platform.start_simulator(args)
            t0 = time.monotonic()
            time.sleep(WARMUP_S)
            fans.measuring.set()
            window_start_ms = int(time.time() * 1000)
            profiler = None
            if plan.profile_dir is not None and Profiler.available():
                profiler = Profiler(plan.profile_dir / label, plan.duration_s - WARMUP_S - 2)
                profiler.start({n: p for n, p in platform.pids().items() if n != "simulator"})
            with ProcessSampler(roots) as sampler:
                simulator = platform.services["simulator"]
                while simulator.alive() and time.monotonic() < t0 + plan.duration_s + 60:
                    time.sleep(0.5)
            fans.measuring.clear()
            window_ms = (window_start_ms, int(time.time() * 1000))
            profile = profiler.finish() if profiler is not None else {}
            window_end = time.monotonic()
            summary = platform.wait_simulator(30.0)
            drained = wait_drained(bootstrap, consumed_topics(platform, topics), timeout_s=180)
            drain_s = time.monotonic() - window_end
        gate = _window(watch.series[platform.gate_group], t0 + WARMUP_S, window_end)
        streams = _window(watch.series[platform.deliveries_group], t0 + WARMUP_S, window_end)
        sink = _window(watch.series[platform.sink_group], t0 + WARMUP_S, window_end)
        dsn = stack.settings.dsn_for(database)
        rows, distinct = _telemetry_rows(dsn)
        hops = summarize(asyncio.run(read_hops(bootstrap, topics, window_ms)))
        observed = collect_sync(bootstrap, dsn, topics)
    finally:
        platform.stop()
    stack.postgres.drop_database(database)
    stack.delete_topics(topics)
    sent = int(summary.get("telemetry_sent", 0))
    losses = losses_by_identity(observed, sent - int(summary.get("fleet_milestones", 0)))
    every_update = hops.get("to tracking topic", {})
    telemetry = topics.telemetry.name
    return {
        "drones": drones,
        "workers": workers,
        "api_replicas": plan.api_replicas,
        "duration_s": plan.duration_s,
        "asked_per_s": drones,
        "produced_per_s": _rate(gate, telemetry, "end"),
        "streams_per_s": _rate(gate, telemetry, "committed"),
        "deliveries_per_s": _rate(streams, topics.delivery_telemetry.name, "committed"),
        # The sink projects what the gate accepted (issue 18), not the raw topic.
        "sink_per_s": _rate(sink, topics.accepted_telemetry.name, "committed"),
        "update_p50_ms": every_update.get("p50_ms"),
        "update_p99_ms": every_update.get("p99_ms"),
        "update_samples": every_update.get("samples"),
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
        "lost": losses["lost"],
        "losses": losses,
        "simulator": summary,
        "processes": sampler.summary(),
        "load_average_1m_at_end": round(os.getloadavg()[0], 1),
        "profile": profile,
    }


def losses_by_identity(observed: Observed, fixes_acked: int) -> dict[str, int]:
    """What was lost between the simulator's acknowledged fixes and the read models.

    By identity at every step the log makes possible: the simulator knows only how many
    fixes the broker acknowledged, so that step compares the count with the distinct
    (drone, sequence) in the topic (a duplicate record cannot make up for a missing
    one); from the topic on, the ledger follows each fix by its identity.
    """
    figures = account(observed, acked=fixes_acked, poison=[])
    in_topic = len({(r.fix.drone_id, r.fix.sequence) for r in observed.telemetry if r.fix})
    acked_missing = max(fixes_acked - in_topic, 0)
    parts = {
        "acked_not_in_topic": acked_missing,
        "accepted_not_in_table": figures.telemetry_rows_lost,
        "neither_accepted_nor_refused": figures.unaccounted,
        "not_forwarded_to_delivery": figures.gate_lost,
        "processing_errors": figures.processing_errors,
    }
    return {
        **parts,
        "lost": sum(parts.values()),
        "fixes_acked": fixes_acked,
        "fixes_in_topic": in_topic,
        "refused_rows": figures.refused_rows,
        "tracking_duplicate_rows": figures.tracking_duplicate_rows,
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
    """The level table (a row per run), median and worst runs, processes, hops, scale-out."""
    levels = table(
        [
            "drones",
            "workers",
            "APIs",
            "run",
            "asked/s",
            "produced/s",
            "gate/s",
            "deliveries/s",
            "sink/s",
            "every update p50 / p99 ms",
            "updates",
            "socket p50 / p99 ms",
            "socket samples",
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
                r.get("api_replicas", 1),
                r.get("run", 1),
                r["asked_per_s"],
                r["produced_per_s"],
                r["streams_per_s"],
                r.get("deliveries_per_s"),
                r["sink_per_s"],
                f"{_ms(r.get('update_p50_ms'))} / {_ms(r.get('update_p99_ms'))}",
                r.get("update_samples"),
                f"{_ms(r['latency_p50_ms'])} / {_ms(r['latency_p99_ms'])}",
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
    spread = _median_and_worst(results)
    if spread:
        levels += "\n\nMedian and worst run per level (by the every-update p99):\n\n" + spread
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


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _median_and_worst(results: list[dict[str, Any]]) -> str:
    """Per (drones, workers) with several runs: the median run and the worst run."""
    groups: dict[tuple[int, int, int], list[dict[str, Any]]] = {}
    for r in results:
        groups.setdefault((r["drones"], r["workers"], r.get("api_replicas", 1)), []).append(r)
    rows = []
    for (drones, workers, apis), runs in groups.items():
        ranked = sorted(runs, key=lambda r: r.get("update_p99_ms") or float("inf"))
        if len(ranked) < 2:
            continue
        median, worst = ranked[(len(ranked) - 1) // 2], ranked[-1]
        rows.append(
            [
                drones,
                workers,
                apis,
                len(ranked),
                f"{_ms(median.get('update_p50_ms'))} / {_ms(median.get('update_p99_ms'))}",
                f"{_ms(worst.get('update_p50_ms'))} / {_ms(worst.get('update_p99_ms'))}",
                max(r["lost"] for r in ranked),
                min(r["streams_per_s"] or 0.0 for r in ranked),
            ]
        )
    if not rows:
        return ""
    return table(
        [
            "drones",
            "workers",
            "APIs",
            "runs",
            "median run p50 / p99 ms",
            "worst run p50 / p99 ms",
            "most lost",
            "slowest gate/s",
        ],
        rows,
    )


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
