"""`dronefleet demo`: the whole platform with a simulated fleet, on one machine.

Starts the stack (unless it runs), the projection sink, a stream worker, the API and the
simulator with demand; requests one delivery itself and prints its live updates, so the
terminal shows a delivery tracked end to end. Ctrl-C stops everything it started.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
import time

import httpx
import websockets

from devstack import stack
from devstack.services import (
    PlatformConfig,
    RunningService,
    register_business,
    start_platform,
    stop_all,
)
from devstack.settings import StackSettings


def run_demo(settings: StackSettings, *, drones: int, per_minute: float) -> int:
    """Run until Ctrl-C (or SIGTERM); return the exit code."""
    _stop_on_signals()
    print("starting the local stack (Kafka, PostgreSQL)...", flush=True)
    started = stack.up(settings)
    config = PlatformConfig(
        stack=settings,
        database=settings.postgres_db,
        dashboard_port=8501,
        streams_metrics_port=9108,
    )
    logs = settings.home / "logs"
    services: list[RunningService] = []
    try:
        services = start_platform(
            config,
            logs,
            ["--drones", str(drones), "--demand-per-minute", str(per_minute)],
        )
        business_key = register_business(config, "demo shop", "shop@example.com")
        _print_banner(config, business_key, logs)
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(_follow_one_delivery(config, business_key))
            _wait_forever(services)
    finally:
        print("\nstopping the services...", flush=True)
        stop_all(services)
        if started.started_kafka or started.started_postgres:
            print("stopping the local stack...", flush=True)
            stack.down(settings)
    return 0


def _print_banner(config: PlatformConfig, business_key: str, logs: object) -> None:
    print(
        f"""
dronefleet is running.
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
  metrics         {config.api_url}/metrics (the API)
                  http://127.0.0.1:{config.streams_metrics_port}/metrics (the stream worker)
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
    print(f"delivery {accepted['delivery_id']} requested", flush=True)
    try:
        async with websockets.connect(
            accepted["websocket_url"], subprotocols=accepted["websocket_subprotocols"]
        ) as socket:
            async for frame in socket:
                update = json.loads(frame)
                print(
                    f"  {update['observed_at'][11:19]}  {update['status']:<20} "
                    f"{update['remaining_m']:8.0f} m to go   ETA {(update['eta'] or '-')[11:19]}",
                    flush=True,
                )
    except websockets.ConnectionClosedError as closed:
        print(f"the tracking connection closed: {closed}", flush=True)
        return
    print("delivered. The fleet keeps flying; Ctrl-C to stop.", flush=True)


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
