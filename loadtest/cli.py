"""`python -m loadtest chaos | bench-e2e`: the fault runs and the end-to-end benchmark.

Both start a private stack (free ports, a temporary home) and stop it at the end; they
never touch the shared stack on 29092/25432. Results go to `--out` as JSON and markdown.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType
from typing import Any

from devstack.settings import REPO_ROOT

DEFAULT_OUT = REPO_ROOT / ".cache" / "loadtest"
"""Where a run's JSON and markdown go unless `--out` says: outside the tree, since a run is
not a result until it is cited (BENCHMARKS.md's tables cite copies under
benchmarks/results/)."""


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    """`kill` unwinds like Ctrl-C: the private stack's `finally` stops its processes.

    Python's default for SIGTERM ends the process at once and left Kafka, PostgreSQL
    and the services of a private stack running.
    """
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and run the command."""
    parser = argparse.ArgumentParser(prog="python -m loadtest", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    chaos = commands.add_parser("chaos", help="fault injection with loss accounting")
    chaos.add_argument("--scenario", action="append", help="run only these (by name)")
    chaos.add_argument("--short", action="store_true", help="the default tests' short forms")
    chaos.add_argument("--scale", type=float, default=1.0, help="multiply the durations")
    bench = commands.add_parser("bench-e2e", help="the whole platform under load")
    bench.add_argument("--levels", default="1000,5000,10000", help="drone counts")
    bench.add_argument("--duration", type=float, default=60.0, help="seconds per level")
    bench.add_argument("--followers", type=int, default=50, help="websocket clients")
    bench.add_argument(
        "--scale-out-level", type=int, default=0, help="drones for 1 vs 2 workers (0: top level)"
    )
    bench.add_argument("--no-scale-out", action="store_true")
    bench.add_argument(
        "--cohorts", type=int, help="the simulator's --cohorts (default: its own; 1: lockstep)"
    )
    bench.add_argument("--profile", action="store_true", help="py-spy the services (needs py-spy)")
    bench.add_argument(
        "--runs", type=int, default=1, help="consecutive runs per level (median and worst shown)"
    )
    bench.add_argument(
        "--api-replicas", type=int, default=1, help="API processes (followers spread over them)"
    )
    for sub in (chaos, bench):
        sub.add_argument("--home", type=Path, help="private stack home (default: a temp folder)")
        sub.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logs = Path(tempfile.gettempdir()) / "dronefleet-loadtest" / time.strftime("%Y%m%d-%H%M%S")
    print(f"service logs: {logs}", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    if args.command == "chaos":
        _chaos(args, logs)
    else:
        _bench(args, logs)


def _chaos(args: argparse.Namespace, logs: Path) -> None:
    from loadtest.chaos import ScenarioResult, run_all
    from loadtest.faults import (
        full_scenarios,
        impossible_requests_scenario,
        short_outage_scenario,
        short_scenario,
        silent_drones_scenario,
        simulator_restart_scenario,
        webhooks_outage_scenario,
    )
    from loadtest.report import chaos_table

    short = [
        short_scenario(),
        short_outage_scenario(),
        silent_drones_scenario(),
        simulator_restart_scenario(),
        impossible_requests_scenario(),
        webhooks_outage_scenario(),
    ]
    scenarios = short if args.short else full_scenarios(args.scale)
    if args.scenario:
        scenarios = [s for s in scenarios if s.name in args.scenario]

    def write(done: list[ScenarioResult]) -> str:
        results = [r.as_dict() for r in done]
        stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        payload = {"date": stamp, "results": results}
        (args.out / "chaos.json").write_text(json.dumps(payload, indent=2, default=str))
        markdown = f"Chaos run of {stamp}\n\n{chaos_table(results)}\n"
        (args.out / "chaos.md").write_text(markdown)
        return markdown

    done = run_all(scenarios, args.home, logs, write)
    print(write(done))
    results = [r.as_dict() for r in done]
    complete = len(results) == len(scenarios)
    sys.exit(0 if complete and all(_clean(r) for r in results) else 1)


def _clean(result: dict[str, Any]) -> bool:
    """Whether the run is clean: nothing lost, every partition reached after each fault.

    And every request no drone could serve was refused with its reason (none in the log);
    and, with webhooks, every delivery event reached the receiver once at least, in order,
    signed, repeats only under its id (`loadtest.webhook_ledger.WebhookFigures.clean`).
    """
    webhooks = result.get("webhooks")
    if webhooks is not None and not webhooks["clean"]:
        return False
    silent = any(fault["silent_partitions"] for fault in result["faults"])
    simulator = result["simulator"]
    refused_right = simulator.get("unservable_refused_as_expected", 0) == simulator.get(
        "unservable_asked", 0
    )
    unservable_in_log = bool(result["deliveries"]["unservable_accepted"])
    return result["figures"]["lost"] == 0 and not silent and refused_right and not unservable_in_log


def _bench(args: argparse.Namespace, logs: Path) -> None:
    from loadtest.bench import BenchPlan, run_bench

    levels = [int(x) for x in args.levels.split(",") if x]
    plan = BenchPlan(
        levels=levels,
        duration_s=args.duration,
        followers=args.followers,
        scale_out_level=None if args.no_scale_out else (args.scale_out_level or max(levels)),
        profile_dir=args.out / "profiles" if args.profile else None,
        cohorts=args.cohorts,
        runs=args.runs,
        api_replicas=args.api_replicas,
    )
    print(run_bench(plan, args.home, logs, args.out))
