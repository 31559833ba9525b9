"""The quote's time before take-off, measured on issue 19's platform runs (read-only).

For each delivery assigned within 10 s of its request: DeliveryRequested.recorded_at (the
API's clock), DroneAssigned.recorded_at, and the climb's start (the first fix on the
mission off the ground, less its altitude at the 5 m/s climb). Run from the repository:
`.venv/bin/python benchmarks/results/eta-issue19/preflight.py eta0dc40a- eta1fe443- etabfd5b4-`
(the topics of seeds 1-3, while the shared broker keeps them). Output: preflight.txt.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from eta_accuracy_run import read_events  # noqa: E402

from contracts import DeliveryRequested, DroneAssigned, TelemetryReported, Topics  # noqa: E402
from devstack.settings import StackSettings  # noqa: E402

CLIMB_MPS = 5.0
QUEUED_AFTER_S = 10.0
"""Assigned later than this: it waited for a drone (the quote's wait term), left out."""


def summary(values: list[float]) -> str:
    xs = sorted(values)
    return (
        f"n={len(xs)} median={statistics.median(xs):.2f} p10={xs[len(xs) // 10]:.2f} "
        f"p90={xs[int(len(xs) * 0.9)]:.2f} min={xs[0]:.2f} max={xs[-1]:.2f}"
    )


def main(prefixes: list[str]) -> None:
    bootstrap = StackSettings().kafka_bootstrap
    to_assign: list[float] = []
    to_first_fix: list[float] = []
    to_climb: list[float] = []
    total: list[float] = []
    for prefix in prefixes:
        topics = Topics.with_prefix(prefix)
        deliveries = topics.deliveries
        events = asyncio.run(read_events(bootstrap, deliveries.name, deliveries.partitions))
        telemetry = topics.delivery_telemetry
        fixes = [
            f
            for f in asyncio.run(read_events(bootstrap, telemetry.name, telemetry.partitions))
            if isinstance(f, TelemetryReported) and f.delivery_id is not None
        ]
        requested: dict[str, datetime] = {}
        assigned: dict[str, datetime] = {}
        for event in events:
            if isinstance(event, DeliveryRequested):
                requested.setdefault(event.delivery_id, event.recorded_at)
            elif isinstance(event, DroneAssigned):
                assigned.setdefault(event.delivery_id, event.recorded_at)
        first: dict[str, TelemetryReported] = {}
        airborne: dict[str, TelemetryReported] = {}
        for fix in sorted(fixes, key=lambda f: f.occurred_at):
            assert fix.delivery_id is not None
            first.setdefault(fix.delivery_id, fix)
            if fix.altitude_m > 0:
                airborne.setdefault(fix.delivery_id, fix)
        measured = 0
        for delivery_id, asked in requested.items():
            given, up = assigned.get(delivery_id), airborne.get(delivery_id)
            if given is None or up is None:
                continue
            if (given - asked).total_seconds() > QUEUED_AFTER_S:
                continue
            climbed_at = up.occurred_at.timestamp() - up.altitude_m / CLIMB_MPS
            to_assign.append((given - asked).total_seconds())
            to_first_fix.append((first[delivery_id].occurred_at - given).total_seconds())
            to_climb.append(climbed_at - given.timestamp())
            total.append(climbed_at - asked.timestamp())
            measured += 1
        print(prefix, "deliveries measured", measured, "of", len(requested))
    print("request recorded -> DroneAssigned recorded:", summary(to_assign))
    print("DroneAssigned recorded -> first fix on the mission:", summary(to_first_fix))
    print("DroneAssigned recorded -> climb began:", summary(to_climb))
    print("request recorded -> climb began:", summary(total))


if __name__ == "__main__":
    main(sys.argv[1:])
