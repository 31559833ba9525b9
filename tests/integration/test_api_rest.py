"""The API's REST side on the real stack: registration, keys, paging, isolation, the fleet.

The API and the projection sink run as processes on this module's topics and database;
the tests produce the events the stream workers and the simulator would.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
import websockets
from websockets.exceptions import InvalidStatus

from contracts import Topics, utc_now
from devstack.services import PlatformConfig
from devstack.settings import StackSettings
from tests.support.api_platform import request, running_api
from tests.support.factories import fix, tracking
from tests.support.kafka_helpers import produce, wait_for


@pytest.fixture(scope="module")
def api(
    running_stack: StackSettings, topics: Topics, fresh_database: Callable[[], str]
) -> Iterator[PlatformConfig]:
    with running_api(running_stack, topics, fresh_database()) as config:
        yield config


def register(api: PlatformConfig, name: str) -> dict[str, Any]:
    response = httpx.post(
        f"{api.api_url}/v1/businesses",
        headers={"X-Operator-Key": api.operator_key},
        json={"name": name, "contact": f"{name}@example.com"},
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def is_problem(response: httpx.Response, status: int) -> bool:
    return (
        response.status_code == status
        and response.headers["content-type"] == "application/problem+json"
        and response.json()["status"] == status
    )


def test_registration_needs_the_operator_key_and_a_valid_body(api: PlatformConfig) -> None:
    url = f"{api.api_url}/v1/businesses"
    body = {"name": "shop", "contact": "shop@example.com"}
    assert is_problem(httpx.post(url, json=body), 401)
    assert is_problem(httpx.post(url, json=body, headers={"X-Operator-Key": "x" * 64}), 401)
    operator = {"X-Operator-Key": api.operator_key}
    assert is_problem(httpx.post(url, json={"name": "", "contact": "c"}, headers=operator), 422)
    assert is_problem(
        httpx.post(url, json={"name": "a\x00b", "contact": "c"}, headers=operator), 422
    )
    assert is_problem(httpx.post(url, json={**body, "extra": 1}, headers=operator), 422)


def test_a_registered_key_works_at_once_and_only_as_issued(api: PlatformConfig) -> None:
    registered = register(api, "bakery")
    assert registered["status"] == "active"
    key = registered["api_key"]
    assert key.startswith(f"dfk.{registered['key_id']}.")
    me = httpx.get(f"{api.api_url}/v1/businesses/me", headers={"X-API-Key": key})
    assert me.status_code == 200 and me.json()["business_id"] == registered["business_id"]
    assert me.json()["name"] == "bakery" and "api_key" not in me.json()
    request(api, key)  # read-your-writes: the fresh key is accepted by the next request

    tampered = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")
    for wrong in (tampered, "dfk.0123456789abcdef." + "A" * 43, "not-a-key", key + "x"):
        response = httpx.get(f"{api.api_url}/v1/businesses/me", headers={"X-API-Key": wrong})
        assert is_problem(response, 401), wrong


def test_a_business_pages_through_its_own_deliveries_only(api: PlatformConfig) -> None:
    mine, theirs = register(api, "mine")["api_key"], register(api, "theirs")["api_key"]
    my_ids = [request(api, mine)["delivery_id"] for _ in range(5)]
    their = request(api, theirs)
    url = f"{api.api_url}/v1/deliveries"

    def listed(key: str, **params: Any) -> dict[str, Any]:
        response = httpx.get(url, headers={"X-API-Key": key}, params=params)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    asyncio.run(
        wait_for(
            lambda: len(listed(mine, limit=10)["items"]) == 5 and bool(listed(theirs)["items"]),
            timeout_s=30,
            what="all six deliveries to reach the read model",
        )
    )
    pages, cursor = [], None
    while True:
        page = listed(mine, limit=2, **({"cursor": cursor} if cursor else {}))
        pages.append([item["delivery_id"] for item in page["items"]])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [len(page) for page in pages] == [2, 2, 1]
    assert [i for page in pages for i in page] == list(reversed(my_ids)), "newest first, once"
    assert [item["delivery_id"] for item in listed(theirs)["items"]] == [their["delivery_id"]]

    for params in ({"limit": 0}, {"limit": 201}, {"cursor": "garbage"}, {"cursor": "e30"}):
        assert is_problem(httpx.get(url, headers={"X-API-Key": mine}, params=params), 422), params
    assert is_problem(httpx.get(url), 401)

    one = f"{url}/{my_ids[0]}"
    foreign = {"X-API-Key": theirs}
    assert is_problem(httpx.get(one, headers=foreign), 404)
    assert is_problem(httpx.get(f"{one}/history", headers=foreign), 404)
    assert is_problem(httpx.post(f"{one}/cancel", headers=foreign), 404)
    assert httpx.get(one, headers={"X-API-Key": mine}).json()["status"] == "requested"
    history = httpx.get(f"{one}/history", headers={"X-API-Key": mine}).json()
    assert [e["event_type"] for e in history["events"]] == ["DeliveryRequested"]
    token = {"Authorization": f"Bearer {their['tracking_token']}"}
    assert is_problem(httpx.get(one, headers=token), 403), "a token reaches its delivery only"
    their_url = f"{url}/{their['delivery_id']}/history"
    assert httpx.get(their_url, headers=token).status_code == 200


def test_operators_read_the_fleet(api: PlatformConfig) -> None:
    now = utc_now()
    fixes = [
        fix("drone-a", 1, now - timedelta(seconds=5), battery=95.0),
        fix("drone-a", 2, now, phase="to_pickup", battery=90.0, delivery_id="d-a"),
        fix("drone-b", 1, now, battery=45.0),
        fix("drone-c", 1, now - timedelta(minutes=5), battery=10.0),
    ]
    asyncio.run(produce(api.stack.kafka_bootstrap, f"{api.topic_prefix}accepted-telemetry", fixes))
    operator = {"X-Operator-Key": api.operator_key}
    base = f"{api.api_url}/v1/fleet"

    def drones(**params: Any) -> dict[str, Any]:
        response = httpx.get(f"{base}/drones", headers=operator, params=params)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    asyncio.run(wait_for(lambda: len(drones()["items"]) == 3, timeout_s=30, what="three drones"))
    first = drones(limit=2)
    second = drones(limit=2, cursor=first["next_cursor"])
    assert [d["drone_id"] for d in first["items"] + second["items"]] == [
        "drone-a",
        "drone-b",
        "drone-c",
    ]
    assert second["next_cursor"] is None
    one = httpx.get(f"{base}/drones/drone-a", headers=operator).json()
    assert one["phase"] == "to_pickup" and one["battery_pct"] == 90.0
    assert one["delivery_id"] == "d-a"
    assert is_problem(httpx.get(f"{base}/drones/nobody", headers=operator), 404)
    summary = httpx.get(f"{base}/summary", headers=operator).json()
    assert summary["drones"] == 3 and summary["on_delivery"] == 1 and summary["silent"] == 1
    assert summary["by_phase"] == {"idle": 2, "to_pickup": 1}
    battery = summary["battery"]
    assert (battery["below_20"], battery["from_20_to_50"], battery["from_80"]) == (1, 1, 1)
    assert battery["min_pct"] == 10.0 and battery["max_pct"] == 90.0

    business = register(api, "nosy")["api_key"]
    for headers in ({}, {"X-API-Key": business}, {"X-Operator-Key": business}):
        assert is_problem(httpx.get(f"{base}/summary", headers=headers), 401), headers
    assert is_problem(
        httpx.get(f"{base}/drones", params={"cursor": first["next_cursor"][:-2]}, headers=operator),
        422,
    )


def test_the_fleet_websocket_streams_every_delivery_to_operators_only(
    api: PlatformConfig,
) -> None:
    url = api.api_url.replace("http://", "ws://") + "/v1/fleet/live"
    good = ["dronefleet.v1", f"bearer.{api.operator_key}"]

    async def refused(subprotocols: list[str], origin: str | None = None) -> int:
        with pytest.raises(InvalidStatus) as caught:
            async with websockets.connect(url, subprotocols=subprotocols, origin=origin):  # type: ignore[arg-type]
                pass
        return caught.value.response.status_code

    assert asyncio.run(refused(["dronefleet.v1"])) == 403
    assert asyncio.run(refused(["dronefleet.v1", "bearer." + "x" * 64])) == 403
    assert asyncio.run(refused(good, origin="https://evil.example")) == 403

    async def watch() -> list[dict[str, Any]]:
        async with websockets.connect(url, subprotocols=good, origin=api.api_url) as connection:
            assert connection.subprotocol == "dronefleet.v1"
            messages = [json.loads(await asyncio.wait_for(connection.recv(), timeout=10))]
            now = utc_now()
            await produce(
                api.stack.kafka_bootstrap,
                f"{api.topic_prefix}tracking",
                [tracking("fleet-1", 1, now), tracking("fleet-2", 1, now)],
            )
            while len(messages) < 3:
                messages.append(json.loads(await asyncio.wait_for(connection.recv(), timeout=20)))
            return messages

    messages = asyncio.run(watch())
    assert messages[0]["type"] == "snapshot" and isinstance(messages[0]["drones"], list)
    updates = messages[1:]
    assert {m["delivery_id"] for m in updates} == {"fleet-1", "fleet-2"}
    assert all(m["type"] == "update" and m["drone_id"] == "drone-1" for m in updates)
