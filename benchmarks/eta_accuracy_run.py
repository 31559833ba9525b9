"""ETA accuracy on a simulated run with wind: the whole platform, then the error table.

Why: the ETA is the product's promise; its error must be measured, not assumed. This
starts the real platform (stack, sink, stream worker, API, simulator with demand) on its
own topics and database, lets the fleet fly for `--minutes`, then reads every tracking
update back from Kafka and reports the absolute error by lead time (1, 5, 10 minutes
before arrival) with `streams.ops.eta_report`, the same code as `dronefleet-streams eta-report`.

    python benchmarks/eta_accuracy_run.py --drones 20 --per-minute 10 --minutes 12
"""

from __future__ import annotations

import argparse
import secrets
import socket
import time

from contracts import Topics
from devstack import stack
from devstack.postgres import PostgresNode
from devstack.services import PlatformConfig, start_platform, stop_all
from devstack.settings import StackSettings
from streams.ops.eta_report import run_report
from streams.settings import StreamsSettings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--drones", type=int, default=20)
    parser.add_argument("--per-minute", type=float, default=10.0)
    parser.add_argument("--minutes", type=float, default=12.0)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    settings = StackSettings()
    prefix = f"eta{secrets.token_hex(3)}-"
    stack.up(settings, Topics.with_prefix(prefix))
    database = f"eta_{prefix.rstrip('-')}"
    PostgresNode(settings).ensure_database(database)
    config = PlatformConfig(
        stack=settings, database=database, topic_prefix=prefix, api_port=free_port()
    )
    logs = settings.home / "bench-logs" / prefix
    simulator_args = [
        "--drones",
        str(args.drones),
        "--demand-per-minute",
        str(args.per_minute),
        "--duration",
        str(args.minutes * 60),
        "--seed",
        str(args.seed),
    ]
    print(
        f"platform on topics {prefix}*, logs in {logs}; flying for {args.minutes} min...",
        flush=True,
    )
    services = start_platform(config, logs, simulator_args)
    try:
        simulator = services[-1]
        deadline = time.monotonic() + args.minutes * 60 + 120
        while simulator.alive() and time.monotonic() < deadline:
            time.sleep(5)
        time.sleep(5)  # the last tracking updates reach the topic
    finally:
        stop_all(services)
    report = run_report(
        StreamsSettings(kafka_bootstrap=settings.kafka_bootstrap, topic_prefix=prefix),
        as_json=False,
    )
    run = f"{args.drones} drones, {args.per_minute} requests/min, {args.minutes} min"
    print(f"\n{run}, seed {args.seed}\n")
    print(report)


if __name__ == "__main__":
    main()
