"""Webhooks in tests: events of a business with endpoints, a real HTTP receiver, a notifier.

Events are recorded "now" (the notifier sends an endpoint only what was recorded after it
was registered). The receiver is a real HTTP server (uvicorn, on a free loopback port)
whose answers a test steers per path: fail the next N requests, fail until told
otherwise, or hang; it keeps every request it got with the time it got it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import uvicorn
from standardwebhooks.webhooks import Webhook

from contracts import (
    Delivered,
    DeliveryEvent,
    DeliveryRequested,
    DroneAssigned,
    GeoPoint,
    PickedUp,
    Topics,
    TrackingUpdated,
    WebhookEndpointRegistered,
    WebhookTopic,
    new_event_id,
    utc_now,
)
from contracts.webhooks import WEBHOOK_TOPICS
from notifier.service import Notifier, bootstrap
from notifier.settings import NotifierSettings
from tests.support.kafka_helpers import wait_for

PICKUP = GeoPoint(47.3780, 8.5400)
DROPOFF = GeoPoint(47.3850, 8.5480)
SIGNING_KEY = "k" * 16 + secrets.token_hex(16)


def endpoint_registered(
    business_id: str, endpoint_id: str, url: str, topics: tuple[WebhookTopic, ...] = WEBHOOK_TOPICS
) -> WebhookEndpointRegistered:
    now = utc_now()
    return WebhookEndpointRegistered(
        event_id=new_event_id(),
        sequence=1,
        occurred_at=now,
        recorded_at=now,
        business_id=business_id,
        endpoint_id=endpoint_id,
        url=url,
        topics=topics,
    )


def delivery_story(business_id: str, delivery_id: str) -> list[DeliveryEvent]:
    """A delivery's four events, recorded now, in order."""
    now = utc_now()
    common: dict[str, Any] = {"occurred_at": now, "recorded_at": now, "delivery_id": delivery_id}
    return [
        DeliveryRequested(
            event_id=new_event_id(),
            sequence=1,
            business_id=business_id,
            pickup=PICKUP,
            dropoff=DROPOFF,
            **common,
        ),
        DroneAssigned(
            event_id=new_event_id(),
            sequence=2,
            drone_id="drone-1",
            pickup=PICKUP,
            dropoff=DROPOFF,
            **common,
        ),
        PickedUp(event_id=new_event_id(), sequence=3, drone_id="drone-1", **common),
        Delivered(event_id=new_event_id(), sequence=4, drone_id="drone-1", **common),
    ]


def eta_update(delivery_id: str, sequence: int, eta_in: timedelta) -> TrackingUpdated:
    now = utc_now()
    return TrackingUpdated(
        event_id=new_event_id(),
        sequence=sequence,
        occurred_at=now,
        recorded_at=now,
        delivery_id=delivery_id,
        drone_id="drone-1",
        source_event_id=new_event_id(),
        lat=PICKUP.lat,
        lon=PICKUP.lon,
        altitude_m=60.0,
        ground_speed_mps=12.0,
        status="en_route_to_dropoff",
        remaining_m=800.0,
        eta=now + eta_in,
    )


@dataclass(frozen=True)
class Received:
    """One request the receiver got."""

    path: str
    headers: dict[str, str]
    body: bytes
    at: float
    """time.time() when it arrived."""

    @property
    def message_id(self) -> str:
        return self.headers["webhook-id"]

    @property
    def payload(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.body)
        return loaded


@dataclass
class Behaviour:
    """How the receiver answers on one path."""

    fail_next: int = 0
    failing: bool = False
    hang_s: float = 0.0


@dataclass
class Receiver:
    """A real HTTP receiver's record and controls; `url(path)` to register."""

    port: int = 0
    got: list[Received] = field(default_factory=list)
    """Requests answered, in the order of their answers."""
    arrived: list[Received] = field(default_factory=list)
    """Requests as they arrived (a hanging one is here, not yet in `got`)."""
    answered: list[tuple[str, int]] = field(default_factory=list)
    behaviour: dict[str, Behaviour] = field(default_factory=dict)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def on(self, path: str) -> Behaviour:
        return self.behaviour.setdefault(path, Behaviour())

    def delivered(self, path: str) -> list[Received]:
        """The requests of `path` answered 2xx, in order of arrival."""
        ok = {id(r) for r, (p, code) in zip(self.got, self.answered, strict=False) if code < 300}
        return [r for r in self.got if r.path == path and id(r) in ok]

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the sender died mid-request (a SIGKILL): nothing was received
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        path = scope["path"]
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        received = Received(path, headers, body, time.time())
        self.arrived.append(received)
        behaviour = self.on(path)
        if behaviour.hang_s:
            await asyncio.sleep(behaviour.hang_s)
        code = 200
        if behaviour.failing:
            code = 503
        elif behaviour.fail_next > 0:
            behaviour.fail_next -= 1
            code = 500
        self.got.append(received)
        self.answered.append((path, code))
        await send({"type": "http.response.start", "status": code, "headers": []})
        await send({"type": "http.response.body", "body": b"x" * 10_000})


@contextlib.asynccontextmanager
async def receiving() -> AsyncIterator[Receiver]:
    """A receiver on a free loopback port, in this event loop, until the block ends."""
    receiver = Receiver()
    config = uvicorn.Config(
        receiver, host="127.0.0.1", port=0, log_level="warning", access_log=False, lifespan="off"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        await wait_for(lambda: server.started, 30, "the receiver to start")
        receiver.port = server.servers[0].sockets[0].getsockname()[1]
        yield receiver
    finally:
        server.should_exit = True
        await task


def verified(received: Received, secret: str) -> dict[str, Any]:
    """The payload, verified with the standardwebhooks package's own verifier (raises)."""
    payload: dict[str, Any] = Webhook(secret).verify(received.body, received.headers)
    return payload


def notifier_settings(
    bootstrap: str, topics: Topics, database_url: str, **extra: object
) -> NotifierSettings:
    """A test notifier: loopback allowed, short retries, quick pauses."""
    options: dict[str, object] = {
        "retry_schedule_s": (0.2, 0.4, 0.8),
        "retry_jitter": 0.1,
        "pause_after_failures": 3,
        "pause_s": 0.5,
        "poll_interval_s": 0.1,
        "allow_private_targets": True,
        "request_timeout_s": 3.0,
        "connect_timeout_s": 1.0,
        **extra,
    }
    return NotifierSettings(
        kafka_bootstrap=bootstrap,
        topic_prefix=topics.prefix,
        database_url=database_url,
        signing_key=SIGNING_KEY,
        **options,  # type: ignore[arg-type]
    )


@contextlib.asynccontextmanager
async def running_notifier(settings: NotifierSettings) -> AsyncIterator[Notifier]:
    """A notifier in this event loop until the block ends (then stopped cleanly)."""
    notifier = bootstrap(settings)
    task = asyncio.create_task(notifier.run())
    try:
        yield notifier
    finally:
        notifier.stop()
        await asyncio.wait_for(task, 30)


@contextlib.contextmanager
def notifier_process(settings: NotifierSettings, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`python -m notifier` as a process with these settings (killed on exit if still up)."""
    env = {**os.environ}
    for name, value in settings.model_dump(mode="json").items():
        if value is None:
            continue
        key = f"DRONEFLEET_NOTIFIER_{name.upper()}"
        env[key] = json.dumps(value) if isinstance(value, list | dict) else str(value)
    env["DRONEFLEET_NOTIFIER_SIGNING_KEY"] = settings.signing_key.get_secret_value()
    env["PYTHONUNBUFFERED"] = "1"  # its log is complete when it is killed
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "notifier"], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
        process.wait(30)


def rows(dsn: str, query: str, *params: object) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(query, params).fetchall()


def execute(dsn: str, query: str, *params: object) -> None:
    """One statement that returns no rows (an UPDATE a test sets the scene with)."""
    with psycopg.connect(dsn) as conn:
        conn.execute(query, params)


def events_in_order(received: list[Received]) -> list[str]:
    """The event ids of the delivery events received, first delivery of each message."""
    seen: set[str] = set()
    out: list[str] = []
    for r in received:
        if r.message_id in seen:
            continue
        seen.add(r.message_id)
        out.append(r.payload["data"]["event_id"])
    return out
