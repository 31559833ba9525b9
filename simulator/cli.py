"""`dronefleet-simulator run`: fly a simulated fleet against the platform.

Flags override the DRONEFLEET_SIMULATOR_* settings. A progress line every few seconds
shows telemetry sent per second against the asked rate; the run exits non-zero when
sends failed or the asked rate was not reached.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import sys
import time
from pathlib import Path

from runtime import configure_logging, serve_probes
from simulator.adapters.airspace import publish_airspace
from simulator.adapters.chaos import ChaosSpec
from simulator.adapters.metrics import simulator_probes
from simulator.adapters.runner import SimulatorRunner
from simulator.errors import ScenarioError
from simulator.flight.engine import FleetEngine, FlightSpec
from simulator.settings import SimulatorSettings
from simulator.world.clock import speedup_error
from simulator.world.demand import PoissonDemand
from simulator.world.scenario import Scenario, default_scenario, load_scenario


def main(argv: list[str] | None = None) -> None:
    """Parse flags, run the fleet, print the summary, exit with its verdict."""
    defaults = SimulatorSettings()
    parser = argparse.ArgumentParser(prog="dronefleet-simulator", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="fly the fleet")
    run.add_argument("--drones", type=int, default=defaults.drones)
    run.add_argument("--telemetry-hz", type=float, default=defaults.telemetry_hz)
    run.add_argument(
        "--cohorts",
        type=int,
        default=defaults.telemetry_cohorts,
        help="spread each interval's fixes over this many evenly spaced sends (1: lockstep)",
    )
    run.add_argument(
        "--duration", type=float, default=defaults.duration_s, help="seconds; 0 = until Ctrl-C"
    )
    run.add_argument(
        "--speedup",
        type=float,
        default=defaults.speedup,
        help="simulated seconds per real second (needs --duration; use --demand-via kafka)",
    )
    run.add_argument("--seed", type=int, default=defaults.seed)
    run.add_argument("--cruise-speed", type=float, default=defaults.cruise_speed_mps)
    run.add_argument(
        "--demand-per-minute",
        type=float,
        default=defaults.demand_per_minute,
        help="delivery requests per minute, Poisson arrivals from the seed (0: none)",
    )
    run.add_argument(
        "--demand-via",
        choices=("api", "kafka"),
        default=defaults.demand_via,
        help="post requests to the REST API, or write DeliveryRequested to Kafka directly",
    )
    run.add_argument(
        "--scenario",
        type=Path,
        default=defaults.scenario_path,
        help="scenario TOML file (default: the bundled Zurich scenario)",
    )
    run.add_argument(
        "--chaos",
        default=defaults.chaos,
        help="perturb telemetry, percent per kind: drop=1,duplicate=2,reorder=1,corrupt=0.5,skew=1",
    )
    run.add_argument("--json", action="store_true", help="print the summary as JSON")
    publish = commands.add_parser(
        "publish-airspace",
        help="publish the scenario's airspace (zones, depots, service area, range); idempotent",
    )
    publish.add_argument("--scenario", type=Path, default=defaults.scenario_path)
    args = parser.parse_args(argv)
    configure_logging(defaults, "simulator")
    if args.command == "publish-airspace":
        sys.exit(_publish(parser, defaults, args.scenario))
    settings = defaults.model_copy(
        update={
            "drones": args.drones,
            "telemetry_hz": args.telemetry_hz,
            "telemetry_cohorts": args.cohorts,
            "duration_s": args.duration,
            "speedup": args.speedup,
            "seed": args.seed,
            "cruise_speed_mps": args.cruise_speed,
            "demand_per_minute": args.demand_per_minute,
            "demand_via": args.demand_via,
            "scenario_path": args.scenario,
            "chaos": args.chaos,
        }
    )
    clock_error = speedup_error(settings.speedup, settings.duration_s)
    if clock_error is not None:
        parser.exit(2, f"dronefleet-simulator: {clock_error}\n")
    try:
        ChaosSpec.parse(settings.chaos)
    except ValueError as error:
        parser.exit(2, f"dronefleet-simulator: {error}\n")
    try:
        scenario = (
            load_scenario(settings.scenario_path) if settings.scenario_path else default_scenario()
        )
    except ScenarioError as error:
        parser.exit(2, f"dronefleet-simulator: {error}\n")
    sys.exit(asyncio.run(_run(settings, scenario, as_json=args.json)))


def _publish(
    parser: argparse.ArgumentParser, settings: SimulatorSettings, path: Path | None
) -> int:
    """Publish the airspace of the scenario at `path` (None: the bundled one)."""
    try:
        scenario = load_scenario(path) if path else default_scenario()
    except ScenarioError as error:
        parser.exit(2, f"dronefleet-simulator: {error}\n")
    written = asyncio.run(publish_airspace(settings.kafka, settings.topics, scenario))
    print(f"airspace {scenario.name!r} {'published' if written else 'already in force'}")
    return 0


async def _run(settings: SimulatorSettings, scenario: Scenario, *, as_json: bool) -> int:
    # The fleet flies this scenario: the platform must know its airspace (idempotent).
    await publish_airspace(settings.kafka, settings.topics, scenario)
    spec = FlightSpec(
        cruise_speed_mps=settings.cruise_speed_mps,
        pickup_dwell_s=settings.dwell_s,
        dropoff_dwell_s=settings.dwell_s,
    )
    engine = FleetEngine.at_depots(
        settings.drones,
        scenario.depots,
        spec,
        settings.seed,
        settings.drone_id_prefix,
        airspace=scenario.airspace,
        wind=scenario.wind,
    )
    demand_radius_m = settings.demand_radius_m or scenario.demand_radius_m or scenario.radius_m
    demand = (
        PoissonDemand(
            scenario,
            settings.demand_per_minute,
            demand_radius_m,
            settings.seed,
            impossible_share=settings.impossible_share,
            for_s=settings.demand_for_s,
        )
        if settings.demand_per_minute > 0
        else None
    )
    runner = SimulatorRunner(settings, engine, demand)
    serving = (
        asyncio.create_task(
            serve_probes(simulator_probes(runner), settings.metrics_host, settings.metrics_port)
        )
        if settings.metrics_port is not None
        else None
    )
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, runner.stop)
    started = time.monotonic()
    progress = asyncio.create_task(_progress(runner, started))
    try:
        stats = await runner.run()
    finally:
        progress.cancel()
        if serving is not None:
            serving.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await serving
    elapsed = max(time.monotonic() - started, 1e-9)
    asked = asked_per_s(settings)
    chaos = runner.chaos.counts if runner.chaos is not None else None
    # The rate is judged on the fixes the engine built: chaos drops and duplicates on purpose.
    # Fleet milestones share the telemetry topic; the asked rate is about fixes.
    built = stats.telemetry_sent - stats.fleet_milestones
    built += chaos.dropped - chaos.duplicated if chaos else 0
    achieved = built / elapsed
    sent_per_s = stats.telemetry_sent / elapsed
    summary = {
        "drones": settings.drones,
        "seconds": round(elapsed, 1),
        "telemetry_sent": stats.telemetry_sent,
        "telemetry_per_s": round(sent_per_s, 1),
        "asked_per_s": asked,
        "speedup": settings.speedup,
        "milestones_sent": stats.milestones_sent,
        "assignments": stats.assignments,
        "refusals": stats.refusals,
        "aborts": stats.aborts,
        "fleet_milestones": stats.fleet_milestones,
        "cancellations": stats.cancellations,
        "demand_via": settings.demand_via if demand is not None else None,
        "requests_posted": stats.requests_posted,
        "request_errors": stats.request_errors,
        "send_errors": stats.send_errors,
        "late_steps": stats.late_steps,
        "producer_renewals": stats.producer_renewals,
        **runner.demand_tally.summary(),
        **(chaos.as_dict() if chaos else {}),
    }
    print(
        json.dumps(summary)
        if as_json or settings.log_format == "json"
        else "summary: " + ", ".join(f"{k}={v}" for k, v in summary.items())
    )
    rate_ok = achieved >= 0.95 * asked * (stats.ticks / max(stats.ticks, 1)) or elapsed < 5
    return 0 if stats.send_errors == 0 and rate_ok else 1


def asked_per_s(settings: SimulatorSettings) -> float:
    """Fixes per second the run must reach: one per drone per interval, sped up."""
    return settings.drones * settings.telemetry_hz * settings.speedup


progress_log = logging.getLogger("simulator.progress")
"""The progress line as a log record when the logs are JSON: at warning, the simulator's
default level, because it is the run's output and not a detail to filter away."""


async def _progress(runner: SimulatorRunner, started: float) -> None:
    asked = asked_per_s(runner.settings)
    last_sent, last_at = 0, started
    while True:
        await asyncio.sleep(5)
        now = time.monotonic()
        stats = runner.stats
        rate = (stats.telemetry_sent - last_sent) / (now - last_at)
        last_sent, last_at = stats.telemetry_sent, now
        line = (
            f"[{now - started:6.0f}s] telemetry {rate:8.1f}/s of {asked:.0f}/s asked"
            f"  in flight {runner.engine.in_flight():4d}"
            f"  assignments {stats.assignments}  requests {stats.requests_posted}"
            f"  errors {stats.send_errors + stats.request_errors}"
        )
        if runner.settings.log_format == "json":  # a log collector reads JSON lines only
            progress_log.warning(line)
        else:
            print(line, file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
