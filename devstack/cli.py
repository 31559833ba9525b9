"""`dronefleet`: the developer's entry point (the local stack and the demo).

dronefleet stack up | down | status
dronefleet demo [--drones N] [--deliveries-per-minute R]
"""

from __future__ import annotations

import argparse
import sys

from devstack import stack
from devstack.errors import StackError
from devstack.settings import StackSettings


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run the command; the exit code says how it went."""
    parser = argparse.ArgumentParser(
        prog="dronefleet", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    stack_parser = commands.add_parser("stack", help="the local Kafka and PostgreSQL")
    stack_parser.add_argument("action", choices=["up", "down", "status"])
    demo_parser = commands.add_parser("demo", help="the whole platform with a simulated fleet")
    demo_parser.add_argument("--drones", type=int, default=8)
    demo_parser.add_argument("--deliveries-per-minute", type=float, default=4.0)
    args = parser.parse_args(argv)
    settings = StackSettings()
    try:
        if args.command == "stack":
            return _stack(args.action, settings)
        from devstack.demo import run_demo

        return run_demo(settings, drones=args.drones, per_minute=args.deliveries_per_minute)
    except StackError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


def _stack(action: str, settings: StackSettings) -> int:
    if action == "up":
        result = stack.up(settings)
        print(
            f"kafka     {'started' if result.started_kafka else 'already running'}"
            f" at {settings.kafka_bootstrap}\n"
            f"postgres  {'started' if result.started_postgres else 'already running'}"
            f" at {settings.postgres_dsn}\n"
            f"topics    {', '.join(result.created_topics) or 'all present'}"
        )
        return 0
    if action == "down":
        kafka_was, postgres_was = stack.down(settings)
        print(f"kafka     {'stopped' if kafka_was else 'was not running'}")
        print(f"postgres  {'stopped' if postgres_was else 'was not running'}")
        return 0
    current = stack.status(settings)
    print(f"kafka     {_describe(current.kafka_running, current.kafka_healthy)}")
    print(f"postgres  {_describe(current.postgres_running, current.postgres_healthy)}")
    return 0 if current.healthy else 1


def _describe(running: bool, healthy: bool) -> str:
    if healthy:
        return "healthy"
    return "running, not answering" if running else "down"


if __name__ == "__main__":
    sys.exit(main())
