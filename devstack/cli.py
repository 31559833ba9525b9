"""`dronefleet`: the developer's entry point (the local stack and the demo).

dronefleet stack up | down | status
dronefleet topics --bootstrap HOST:PORT [--prefix P] [--partitions N] [--replication-factor R]
                  [--acls]
dronefleet demo [--drones N] [--deliveries-per-minute R] [--namespace NAME] [--api-port P]
                [--dashboard-port P] [--metrics-port P] [--log-format text|json]
"""

from __future__ import annotations

import argparse
import os
import sys

from pydantic import SecretStr

from devstack import stack
from devstack.errors import StackError
from devstack.prometheus import PrometheusNode
from devstack.settings import StackSettings
from kafkaio.acls import ADMIN, PRINCIPALS, apply_security, grants
from kafkaio.connection import Broker, KafkaConnection


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run the command; the exit code says how it went."""
    parser = argparse.ArgumentParser(
        prog="dronefleet", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    stack_parser = commands.add_parser("stack", help="the local Kafka, PostgreSQL and Prometheus")
    stack_parser.add_argument("action", choices=["up", "down", "status"])
    topics_parser = commands.add_parser(
        "topics", help="create the platform's topics (contracts.topics) on any broker"
    )
    topics_parser.add_argument("--bootstrap", required=True)
    topics_parser.add_argument("--prefix", default="")
    topics_parser.add_argument("--partitions", type=int, default=4)
    topics_parser.add_argument("--replication-factor", type=int, default=1)
    topics_parser.add_argument(
        "--acls",
        action="store_true",
        help="on a broker with SASL: as the super user `admin` (password in"
        " DRONEFLEET_KAFKA_ADMIN_PASSWORD) create each service's SCRAM user (password in"
        " DRONEFLEET_<SERVICE>_KAFKA_PASSWORD) and the ACLs of kafkaio.acls",
    )
    demo_parser = commands.add_parser("demo", help="the whole platform with a simulated fleet")
    demo_parser.add_argument("--drones", type=int, default=16)
    demo_parser.add_argument(
        "--deliveries-per-minute",
        type=float,
        default=None,
        help="simulated demand (default: sized to the fleet, half of it busy)",
    )
    demo_parser.add_argument(
        "--namespace",
        default="",
        help="a demo of its own on a running stack: topics <namespace>-*, database <namespace>",
    )
    demo_parser.add_argument("--api-port", type=int, default=8000)
    demo_parser.add_argument("--dashboard-port", type=int, default=8501)
    demo_parser.add_argument(
        "--metrics-port",
        type=int,
        default=9108,
        help="the stream worker's metrics; the sink, simulator and lag exporter use the next 3",
    )
    demo_parser.add_argument(
        "--log-format",
        choices=["text", "json"],
        default="text",
        help="the services' logs (json: one object a line, for jq)",
    )
    args = parser.parse_args(argv)
    settings = StackSettings()
    try:
        if args.command == "stack":
            return _stack(args.action, settings)
        if args.command == "topics":
            return _topics(args)
        from devstack.demo import run_demo

        return run_demo(
            settings,
            drones=args.drones,
            per_minute=args.deliveries_per_minute,
            namespace=args.namespace,
            api_port=args.api_port,
            dashboard_port=args.dashboard_port,
            metrics_port=args.metrics_port,
            log_format=args.log_format,
        )
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
        print(f"prometheus {_prometheus_line(settings, result.started_prometheus)}")
        return 0
    if action == "down":
        kafka_was, postgres_was = stack.down(settings)
        print(f"kafka     {'stopped' if kafka_was else 'was not running'}")
        print(f"postgres  {'stopped' if postgres_was else 'was not running'}")
        return 0
    current = stack.status(settings)
    print(f"kafka     {_describe(current.kafka_running, current.kafka_healthy)}")
    print(f"postgres  {_describe(current.postgres_running, current.postgres_healthy)}")
    if settings.prometheus:
        running, healthy = current.prometheus_running, current.prometheus_healthy
        print(f"prometheus {_describe(running, healthy)} at {PrometheusNode(settings).url}")
    return 0 if current.healthy else 1


def _topics(args: argparse.Namespace) -> int:
    """Create the layout's missing topics (idempotent: a second run creates nothing)."""
    import asyncio

    from contracts import Topics
    from devstack.kafka import create_topics

    layout = Topics.with_prefix(args.prefix, args.partitions)
    broker: Broker = args.bootstrap
    if args.acls:
        broker = _admin_connection(args.bootstrap)
    created = asyncio.run(create_topics(broker, layout.all(), args.replication_factor))
    print(f"topics    {', '.join(created) or 'all present'}")
    if args.acls:
        passwords = _service_passwords()
        apply_security(broker, grants(layout), passwords)
        print(f"acls      users {', '.join(sorted(passwords))} and their ACLs applied")
    return 0


def _admin_connection(bootstrap: str) -> KafkaConnection:
    """The super user's connection (PLAIN, as the broker's configuration defines it)."""
    password = os.environ.get("DRONEFLEET_KAFKA_ADMIN_PASSWORD")
    if not password:
        raise StackError(
            "--acls needs the super user's password in DRONEFLEET_KAFKA_ADMIN_PASSWORD"
        )
    return KafkaConnection(bootstrap).as_user(ADMIN, password, "PLAIN")


def _service_passwords() -> dict[str, SecretStr]:
    """Each service's password, from the variable the service itself reads."""
    missing = [
        f"DRONEFLEET_{user.upper()}_KAFKA_PASSWORD"
        for user in PRINCIPALS
        if not os.environ.get(f"DRONEFLEET_{user.upper()}_KAFKA_PASSWORD")
    ]
    if missing:
        raise StackError(f"--acls needs every service's password; missing: {', '.join(missing)}")
    return {
        user: SecretStr(os.environ[f"DRONEFLEET_{user.upper()}_KAFKA_PASSWORD"])
        for user in PRINCIPALS
    }


def _prometheus_line(settings: StackSettings, started: bool) -> str:
    """What `up` did about Prometheus, in words."""
    if not settings.prometheus:
        return "off (DRONEFLEET_STACK_PROMETHEUS=false)"
    node = PrometheusNode(settings)
    if node.pid() is None:
        return (
            f"not started: port {settings.prometheus_port} is taken by another program"
            " (set DRONEFLEET_STACK_PROMETHEUS_PORT)"
        )
    return f"{'started' if started else 'already running'} at {node.url}"


def _describe(running: bool, healthy: bool) -> str:
    if healthy:
        return "healthy"
    return "running, not answering" if running else "down"


if __name__ == "__main__":
    sys.exit(main())
