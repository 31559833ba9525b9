"""`dronefleet-streams lag`: a consumer group's lag per partition, once or as a watchdog.

    dronefleet-streams lag [--group GROUP ...] [--watch SECONDS] [--stuck-after SECONDS]
    dronefleet-streams lag [--group GROUP ...] --serve PORT [--host HOST] [--every SECONDS]

The default groups are the stream workers' three: their Faust app id (the dispatcher),
`-gate` (the telemetry gate) and `-deliveries` (the deliveries fold). With `--watch`, it prints
the total lag at each interval and a line per stuck partition (exit code 3 on the first
stuck partition with `--fail-on-stuck`, for scripts and CI). With `--serve`, it serves
the groups' lag to Prometheus instead (`streams.ops.lag_exporter`), for the alerts.
"""

from __future__ import annotations

import argparse
import asyncio
from datetime import timedelta

from contracts import utc_now
from kafkaio.connection import Broker
from kafkaio.offsets import group_offsets
from streams.ops import lag_exporter
from streams.ops.lag_watchdog import PartitionLag, Watchdog, snapshot
from streams.settings import StreamsSettings


async def group_lag(bootstrap: Broker, group: str) -> list[PartitionLag]:
    """Committed and end offsets of every partition the group has committed on."""
    return snapshot(*await group_offsets(bootstrap, group))


def render(partitions: list[PartitionLag]) -> str:
    """One line per partition, then the total."""
    lines = [
        f"{p.topic}[{p.partition}]  committed {p.committed}  end {p.end}  lag {p.lag}"
        for p in partitions
    ]
    lines.append(f"total lag {sum(p.lag for p in partitions)}")
    return "\n".join(lines)


async def groups_lag(bootstrap: Broker, groups: list[str]) -> list[PartitionLag]:
    """The partitions of every group, one list."""
    return [p for group in groups for p in await group_lag(bootstrap, group)]


async def watch(
    bootstrap: Broker, groups: list[str], every_s: float, watchdog: Watchdog, fail: bool
) -> int:
    """Report lag every `every_s` and the partitions the watchdog finds stuck."""
    while True:
        partitions = await groups_lag(bootstrap, groups)
        stuck = watchdog.observe(partitions, utc_now())
        print(f"{utc_now():%H:%M:%S} total lag {sum(p.lag for p in partitions)}", flush=True)
        for p in stuck:
            print(f"STUCK {p.topic}[{p.partition}] at {p.committed}, lag {p.lag}", flush=True)
        if stuck and fail:
            return 3
        await asyncio.sleep(every_s)


def main(args: list[str], settings: StreamsSettings) -> int:
    """Parse the lag command's flags and run it."""
    parser = argparse.ArgumentParser(prog="dronefleet-streams lag", description=__doc__)
    parser.add_argument("--group", action="append", dest="groups", help="repeatable")
    parser.add_argument("--watch", type=float, default=0.0, help="seconds between checks")
    parser.add_argument("--stuck-after", type=float, default=60.0)
    parser.add_argument("--fail-on-stuck", action="store_true")
    parser.add_argument("--serve", type=int, default=None, help="serve Prometheus metrics")
    parser.add_argument("--host", default=settings.metrics_host)
    parser.add_argument("--every", type=float, default=5.0, help="seconds between readings")
    options = parser.parse_args(args)
    groups = options.groups or settings.groups
    if options.serve is not None:
        asyncio.run(
            lag_exporter.serve(settings.kafka, groups, options.host, options.serve, options.every)
        )
        return 0
    if options.watch <= 0:
        print(render(asyncio.run(groups_lag(settings.kafka, groups))))
        return 0
    watchdog = Watchdog(stuck_after=timedelta(seconds=options.stuck_after))
    return asyncio.run(
        watch(settings.kafka, groups, options.watch, watchdog, options.fail_on_stuck)
    )
