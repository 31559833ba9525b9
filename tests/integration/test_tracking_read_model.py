"""The tracking socket's first message comes from the read model when the API has none.

The API and the projection sink run as processes on this module's topics and database
(no stream worker, no simulator): the tests produce the events those would. A finished
delivery's socket, opened on an API started after the delivery ended (as after a
restart, or on another replica), gets the final state at once and is closed with 1000;
a waiting delivery's socket gets its state and place in the queue at once, the place
again when it changes, then the flight, the failure with its reason, and the close.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
import websockets

from api import tokens
from contracts import Topics, utc_now
from devstack.services import PlatformConfig, register_business
from devstack.settings import StackSettings
from tests.support.api_platform import request, running_api
from tests.support.factories import assigned, delivered, failed, picked_up, tracking
from tests.support.kafka_helpers import produce, wait_for


@pytest.fixture(scope="module")
def database(fresh_database: Callable[[], str]) -> str:
    return fresh_database()


OLD_DELIVERIES = {"DRONEFLEET_API_TOKEN_AFTER_FINAL_S": str(10 * 365 * 86400)}
"""The module's deliveries happened at the factories' fixed times, long ago: their tokens
must outlive their end for these tests (`api.token_life`)."""


@pytest.fixture(scope="module")
def first_api(
    running_stack: StackSettings, topics: Topics, database: str
) -> Iterator[PlatformConfig]:
    with running_api(running_stack, topics, database, extra_env=OLD_DELIVERIES) as config:
        yield config


def status_of(api: PlatformConfig, delivery_id: str) -> str | None:
    token = tokens.issue(api.token_secret, delivery_id, utc_now(), timedelta(minutes=5))
    response = httpx.get(
        f"{api.api_url}/v1/deliveries/{delivery_id}",
        headers={"Authorization": f"Bearer {token}"},
    )
    return str(response.json()["status"]) if response.status_code == 200 else None


async def in_read_model(api: PlatformConfig, delivery_id: str, status: str) -> None:
    await wait_for(
        lambda: status_of(api, delivery_id) == status,
        timeout_s=30,
        what=f"{delivery_id} {status} in the read model",
    )


class Socket:
    """A customer's connection: its frames with the seconds since it opened."""

    def __init__(self, api: PlatformConfig, delivery_id: str) -> None:
        self.token = tokens.issue(api.token_secret, delivery_id, utc_now(), timedelta(minutes=5))
        self.url = f"ws://127.0.0.1:{api.api_port}/v1/deliveries/{delivery_id}/live"
        self.frames: list[tuple[float, dict[str, Any]]] = []
        self.close_code: int | None = None

    async def follow(self, until: Callable[[list[dict[str, Any]]], bool]) -> None:
        """Read frames until `until(frames)` holds or the server closes (30 s at most)."""
        async with websockets.connect(
            self.url,
            subprotocols=["dronefleet.v1", f"bearer.{self.token}"],  # type: ignore[list-item]
        ) as connection:
            opened = time.monotonic()
            try:
                async with asyncio.timeout(30):
                    async for frame in connection:
                        self.frames.append((time.monotonic() - opened, json.loads(frame)))
                        if until(self.messages):
                            return
            finally:
                self.close_code = connection.close_code

    @property
    def messages(self) -> list[dict[str, Any]]:
        return [message for _, message in self.frames]


def test_a_finished_delivery_is_told_at_once_by_an_api_started_after_it_ended(
    running_stack: StackSettings, topics: Topics, database: str, first_api: PlatformConfig
) -> None:
    key = register_business(first_api, "read model shop")
    delivery_id = request(first_api, key)["delivery_id"]
    asyncio.run(
        produce(
            running_stack.kafka_bootstrap,
            topics.deliveries.name,
            [assigned(delivery_id), picked_up(delivery_id), delivered(delivery_id)],
        )
    )
    updates = [
        tracking(delivery_id, 1, status="en_route_to_pickup"),
        tracking(delivery_id, 2, status="en_route_to_dropoff"),
        tracking(delivery_id, 3, status="delivered", remaining_m=0.0, eta_in=timedelta(0)),
    ]
    asyncio.run(produce(running_stack.kafka_bootstrap, topics.tracking.name, updates))
    asyncio.run(in_read_model(first_api, delivery_id, "delivered"))

    # A new API process: its hub consumes the tracking topic from the end, so it has
    # nothing of this delivery in memory; only the read model knows it ended.
    with running_api(
        running_stack, topics, database, with_sink=False, extra_env=OLD_DELIVERIES
    ) as restarted:
        socket = Socket(restarted, delivery_id)
        asyncio.run(socket.follow(lambda _: False))

    assert socket.close_code == 1000, "the socket is closed once the final state is sent"
    [(after_s, snapshot)] = socket.frames
    assert after_s < 2.0, "at once, not after a refresh period"
    assert snapshot["type"] == "snapshot" and snapshot["sequence"] == 3
    assert snapshot["status"] == "delivered" and snapshot["remaining_m"] == 0


def test_a_waiting_delivery_is_told_its_place_then_its_flight_and_why_it_failed(
    running_stack: StackSettings, topics: Topics, first_api: PlatformConfig
) -> None:
    key = register_business(first_api, "queue shop")
    first = request(first_api, key)["delivery_id"]
    second = request(first_api, key)["delivery_id"]
    asyncio.run(in_read_model(first_api, second, "requested"))
    socket = Socket(first_api, second)

    async def scenario() -> None:
        reader = asyncio.create_task(socket.follow(lambda _: False))
        await wait_for(lambda: len(socket.frames) >= 1, 10, "the first message")
        # The first delivery gets a drone: the second is next in line.
        await produce(running_stack.kafka_bootstrap, topics.deliveries.name, [assigned(first)])
        await wait_for(
            lambda: socket.messages[-1].get("waiting_ahead") == 0, 20, "the place to change"
        )
        await produce(
            running_stack.kafka_bootstrap,
            topics.deliveries.name,
            [assigned(second, "drone-2"), picked_up(second, "drone-2")],
        )
        flight = [
            tracking(second, 1, status="en_route_to_pickup"),
            tracking(second, 2, status="en_route_to_dropoff"),
        ]
        await produce(running_stack.kafka_bootstrap, topics.tracking.name, flight)
        await wait_for(lambda: len(socket.frames) >= 4, 10, "the flight's updates")
        ended = failed(second, "drone-2", seq=5, reason="battery", at=utc_now())
        await produce(running_stack.kafka_bootstrap, topics.deliveries.name, [ended])
        end = tracking(second, 3, status="failed", eta_in=None)
        await produce(running_stack.kafka_bootstrap, topics.tracking.name, [end])
        await reader

    asyncio.run(scenario())

    after_s, first_message = socket.frames[0]
    assert after_s < 2.0, "a waiting customer is told at once"
    quote = first_message.pop("quote")  # its figures are api.quote's (tests/unit/api)
    assert quote is None or quote["dropoff_eta"] > quote["pickup_eta"]
    assert first_message == {
        "type": "state",
        "delivery_id": second,
        "status": "requested",
        "reason": None,
        "waiting_ahead": 1,
        "waiting_total": 2,
    }
    states = [m for m in socket.messages if m["type"] == "state"]
    assert [(m["status"], m["waiting_ahead"], m["reason"]) for m in states] == [
        ("requested", 1, None),
        ("requested", 0, None),
        ("failed", None, "battery"),
    ]
    updates = [m for m in socket.messages if m["type"] in ("snapshot", "update")]
    assert [(m["type"], m["status"]) for m in updates] == [
        ("update", "en_route_to_pickup"),
        ("update", "en_route_to_dropoff"),
        ("update", "failed"),
    ]
    assert socket.messages[-1]["type"] == "state", "the reason follows the final update"
    assert socket.close_code == 1000
