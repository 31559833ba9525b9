"""`dronefleet demo`: the whole platform with a simulated fleet, on one machine.

Starts the stack (unless it runs), the projection sink, a stream worker, the API, the
notifier and the simulator with demand; registers a small local webhook receiver
(`devstack.webhook_receiver`) for the demo's business, requests one delivery itself,
prints its tracking link (the live map), its live updates and the signed webhooks the
receiver gets, so the terminal shows a delivery tracked end to end. Ctrl-C stops
everything it started.

The demand is sized to the fleet (`sized_demand`): a newcomer's delivery must find a
drone within seconds, not wait behind a queue the fleet can never clear.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
import time
from typing import Any

import httpx
import websockets

from contracts import Topics
from contracts.webhooks import WEBHOOK_TOPICS
from devstack import stack
from devstack.postgres import PostgresNode
from devstack.prometheus import PrometheusNode
from devstack.services import (
    PlatformConfig,
    RunningService,
    register_business,
    start_platform,
    start_service,
    stop_all,
)
from devstack.settings import StackSettings
from devstack.webhook_receiver import WebhookReceiver

LOCAL_RECEIVER_ENV = {
    "DRONEFLEET_API_WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",
    "DRONEFLEET_NOTIFIER_ALLOW_PRIVATE_TARGETS": "true",
}
"""The demo's receiver is on loopback, which the API and the notifier refuse by default."""

MISSION_MINUTES = 13.0
"""How long one delivery of the demo's demand keeps a drone busy, return and charge included.

Measured in a ten-minute demo (16 drones, 0.8 deliveries a minute): the drone reached the
pickup 1 to 6 minutes after the request (the nearest free drone can be 5 km away in the
Zurich scenario), dropped the parcel off 1.3 to 4 minutes later, then flies back to a
depot (a few minutes) and charges the ~25 % it used (about 2 minutes at 0.2 %/s).
"""

UTILISATION = 0.5
"""The share of the fleet the demand keeps busy: half, so a burst of requests (Poisson
arrivals bunch) still finds a free drone and the queue empties between bursts."""


def sized_demand(drones: int) -> float:
    """Deliveries per minute that keep `UTILISATION` of `drones` busy (16 drones: 0.62)."""
    return drones * UTILISATION / MISSION_MINUTES


def run_demo(
    settings: StackSettings,
    *,
    drones: int,
    per_minute: float | None = None,
    namespace: str = "",
    api_port: int = 8000,
    dashboard_port: int = 8501,
    metrics_port: int = 9108,
    log_format: str = "text",
) -> int:
    """Run until Ctrl-C (or SIGTERM); return the exit code.

    `per_minute` None: the demand sized to the fleet (`sized_demand`). `namespace`: a
    demo of its own on a running stack (its topics prefixed `<namespace>-`, its own
    database), next to another demo or the tests; with other ports, it collides with
    nothing.
    """
    demand = sized_demand(drones) if per_minute is None else per_minute
    _stop_on_signals()
    print("starting the local stack (Kafka, PostgreSQL)...", flush=True)
    prefix = f"{namespace}-" if namespace else ""
    started = stack.up(settings, Topics.with_prefix(prefix))
    database = namespace or settings.postgres_db
    PostgresNode(settings).ensure_database(database)
    config = PlatformConfig(
        stack=settings,
        database=database,
        topic_prefix=prefix,
        api_port=api_port,
        dashboard_port=dashboard_port,
        streams_metrics_port=metrics_port,
        projections_metrics_port=metrics_port + 1,
        simulator_metrics_port=metrics_port + 2,
        lag_exporter_port=metrics_port + 3,
        notifier_metrics_port=metrics_port + 4,
        log_format=log_format,
    )
    logs = settings.home / "logs" / (namespace or "main")
    services: list[RunningService] = []
    receiver = WebhookReceiver()
    try:
        services = start_platform(
            config,
            logs,
            ["--drones", str(drones), "--demand-per-minute", f"{demand:.3f}"],
            LOCAL_RECEIVER_ENV,
        )
        services.append(start_service("notifier", ["notifier"], config, logs, LOCAL_RECEIVER_ENV))
        business_key = register_business(config, "demo shop", "shop@example.com")
        receiver.secret = register_receiver(config, business_key, receiver.url)
        _print_banner(config, business_key, logs, drones, demand)
        print(f"webhooks of the demo shop's deliveries go to {receiver.url} (printed below)")
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(_follow_one_delivery(config, business_key))
            _wait_forever(services)
    finally:
        print("\nstopping the services...", flush=True)
        receiver.close()
        stop_all(services)
        if started.started_kafka or started.started_postgres:
            print("stopping the local stack...", flush=True)
            stack.down(settings)
    return 0


def register_receiver(config: PlatformConfig, business_key: str, url: str) -> str:
    """Register `url` for every webhook topic of the business; its signing secret."""
    response = httpx.post(
        f"{config.api_url}/v1/webhooks/endpoints",
        headers={"X-API-Key": business_key},
        json={"url": url, "topics": list(WEBHOOK_TOPICS), "description": "the demo's receiver"},
        timeout=30.0,
    )
    response.raise_for_status()
    secret: str = response.json()["secret"]
    return secret


def _print_banner(
    config: PlatformConfig, business_key: str, logs: object, drones: int, demand: float
) -> None:
    print(
        f"""
dronefleet is running: {drones} drones, {demand:.2f} deliveries a minute of simulated demand.
  REST API        {config.api_url}/docs   (OpenAPI: {config.api_url}/openapi.json)
  dashboard       {config.dashboard_url}   (operators: the fleet, live)
  request         curl -X POST {config.api_url}/v1/deliveries \\
                    -H 'X-API-Key: {business_key}' -H 'Content-Type: application/json' \\
                    -d '{{"pickup":{{"lat":47.372,"lon":8.538}},
                         "dropoff":{{"lat":47.385,"lon":8.548}}}}'
  your deliveries curl {config.api_url}/v1/deliveries -H 'X-API-Key: {business_key}'
  operators       curl {config.api_url}/v1/fleet/summary -H 'X-Operator-Key: {config.operator_key}'
                  (POST /v1/businesses with that key registers another business)
  live tracking   connect to the answer's websocket_url with the subprotocols
                  ["dronefleet.v1", "bearer.<tracking_token>"]
  prometheus      {_prometheus_url(config)}
                  (every service's metrics, the alerts: {_prometheus_url(config)}/alerts)
  metrics         {config.api_url}/metrics (the API, with the operators' key as a bearer)
                  http://127.0.0.1:{config.streams_metrics_port}/metrics (the stream worker;
                  the sink, the simulator, the lag exporter and the notifier on the next
                  four ports, each with /healthz and /readyz)
  webhooks        curl {config.api_url}/v1/webhooks/endpoints -H 'X-API-Key: {business_key}'
                  (each endpoint's /attempts, /messages?state=dead, /redeliver)
  logs            {logs}/*.log
Following one delivery below; Ctrl-C stops everything.
""",
        flush=True,
    )


async def _follow_one_delivery(config: PlatformConfig, business_key: str) -> None:
    async with httpx.AsyncClient(base_url=config.api_url) as client:
        response = await client.post(
            "/v1/deliveries",
            headers={"X-API-Key": business_key},
            json={
                "pickup": {"lat": 47.372, "lon": 8.538},
                "dropoff": {"lat": 47.385, "lon": 8.548},
            },
        )
        response.raise_for_status()
        accepted = response.json()
    requested = time.monotonic()
    print(
        f"delivery {accepted['delivery_id']} requested; watch it on the live map:\n"
        f"  {accepted['tracking_url']}",
        flush=True,
    )
    try:
        async with websockets.connect(
            accepted["websocket_url"], subprotocols=accepted["websocket_subprotocols"]
        ) as socket:
            async for frame in socket:
                print(f"  +{time.monotonic() - requested:5.0f} s  {describe(json.loads(frame))}")
    except websockets.ConnectionClosedError as closed:
        print(f"the tracking connection closed: {closed}", flush=True)
        return
    print("The fleet keeps flying; Ctrl-C to stop.", flush=True)


def describe(message: dict[str, Any]) -> str:
    """One line for a tracking socket message (an update with a position, or a state)."""
    status = f"{message['status']:<20}"
    if message["type"] != "state":
        eta = (message["eta"] or "-")[11:19]
        return f"{status} {message['remaining_m']:8.0f} m to go   ETA {eta}"
    if message["waiting_ahead"] is not None:
        return f"{status} waiting for a drone, {message['waiting_ahead']} deliveries ahead"
    return f"{status} {message['reason'] or ''}".rstrip()


def _prometheus_url(config: PlatformConfig) -> str:
    """Where the stack's Prometheus is, or why there is none."""
    node = PrometheusNode(config.stack)
    if not config.stack.prometheus:
        return "off (DRONEFLEET_STACK_PROMETHEUS=false)"
    if node.pid() is None:
        return f"not running (port {config.stack.prometheus_port} taken by another program)"
    return node.url


def _stop_on_signals() -> None:
    """Make Ctrl-C and SIGTERM raise KeyboardInterrupt, even if SIGINT was ignored.

    A shell without job control starts background commands with SIGINT ignored, and
    Python keeps it ignored; the demo must stop on it all the same.
    """

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)


def _wait_forever(services: list[RunningService]) -> None:
    while all(service.alive() for service in services):
        time.sleep(1)
    dead = [s.name for s in services if not s.alive()]
    print(f"a service stopped: {', '.join(dead)}; see its log", file=sys.stderr)
