"""End to end, every part real: request over REST, follow over the websocket, check the DB.

The platform runs as in the demo: the projection sink, a Faust worker, the API and the
simulator, each its own process, on the real broker and the real PostgreSQL server.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import datetime
from typing import Any

import httpx
import pytest
import websockets
from websockets.exceptions import InvalidStatus

from tests.support.api_platform import DROPOFF, PICKUP, Platform
from tests.support.api_platform import request as request_delivery
from tests.support.database import count
from tests.support.kafka_helpers import wait_for

ORDER = ["en_route_to_pickup", "en_route_to_dropoff", "delivered"]


async def follow(
    accepted: dict[str, Any], timeout_s: float = 150.0
) -> tuple[list[dict[str, Any]], int | None]:
    messages: list[dict[str, Any]] = []
    async with websockets.connect(
        accepted["websocket_url"], subprotocols=accepted["websocket_subprotocols"]
    ) as connection:
        assert connection.subprotocol == "dronefleet.v1"

        async def read_all() -> None:
            async for frame in connection:
                messages.append(json.loads(frame))

        await asyncio.wait_for(read_all(), timeout=timeout_s)
        return messages, connection.close_code


def seconds_left(message: dict[str, Any]) -> float:
    return (
        datetime.fromisoformat(message["eta"]) - datetime.fromisoformat(message["observed_at"])
    ).total_seconds()


def test_a_customer_follows_a_delivery_until_it_is_delivered(
    platform: Platform,
) -> None:
    config, dsn, key = platform
    accepted = request_delivery(config, key)
    delivery_id = accepted["delivery_id"]
    frames, close_code = asyncio.run(follow(accepted))

    assert close_code == 1000, "the server closes cleanly when the delivery ends"
    assert {m["delivery_id"] for m in frames} == {delivery_id}
    # Connected while it waits for its drone: told so at once, with its place in the queue.
    assert frames[0]["type"] == "state" and frames[0]["status"] == "requested"
    assert frames[0]["waiting_ahead"] == 0
    messages = [m for m in frames if m["type"] != "state"]  # the updates, with positions
    statuses = [m["status"] for m in messages]
    assert statuses[-1] == "delivered"
    assert [ORDER.index(s) for s in statuses] == sorted(ORDER.index(s) for s in statuses)
    assert len(messages) >= 5, "live updates while flying, not just the final state"
    assert seconds_left(messages[-1]) == 0 and messages[-1]["remaining_m"] == 0
    assert seconds_left(messages[0]) > seconds_left(messages[len(messages) // 2]) > 0
    sequences = [m["sequence"] for m in messages]
    assert sequences == sorted(set(sequences)), "updates only move forward"

    asyncio.run(
        wait_for(
            lambda: (
                count(
                    dsn,
                    "SELECT count(*) FROM delivery_status_view WHERE delivery_id = %s"
                    " AND status = 'delivered'",
                    delivery_id,
                )
                == 1
            ),
            timeout_s=30,
            what="the read model to show the delivery delivered",
        )
    )
    fixes = count(dsn, "SELECT count(*) FROM telemetry WHERE delivery_id = %s", delivery_id)
    distinct = count(
        dsn,
        "SELECT count(DISTINCT (drone_id, sequence)) FROM telemetry WHERE delivery_id = %s",
        delivery_id,
    )
    assert fixes > 0 and fixes == distinct, "the delivery's telemetry is stored once"
    assert count(dsn, "SELECT count(*) FROM tracking WHERE delivery_id = %s", delivery_id) >= len(
        messages
    )

    status = httpx.get(
        f"{config.api_url}/v1/deliveries/{delivery_id}",
        headers={"Authorization": f"Bearer {accepted['tracking_token']}"},
    )
    assert status.status_code == 200 and status.json()["status"] == "delivered"


def test_the_worker_serves_the_gates_verdicts_to_prometheus(platform: Platform) -> None:
    """The simulator's fixes pass the gate; the worker's endpoint counts them as they come."""
    config, _, _ = platform
    url = f"http://127.0.0.1:{config.streams_metrics_port}/metrics"

    def valid_fixes() -> float:
        for line in httpx.get(url, timeout=5).text.splitlines():
            if line.startswith('dronefleet_gate_records_total{verdict="valid"}'):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    asyncio.run(wait_for(lambda: valid_fixes() > 0, 30, "valid fixes to be counted"))
    first = valid_fixes()
    asyncio.run(wait_for(lambda: valid_fixes() > first, 30, "the valid count to grow"))


def test_tokens_and_origins_are_checked_before_accept(platform: Platform) -> None:
    config, _, key = platform
    mine, theirs = request_delivery(config, key), request_delivery(config, key)

    async def refused(url: str, subprotocols: list[str], origin: str | None = None) -> int:
        with pytest.raises(InvalidStatus) as caught:
            async with websockets.connect(url, subprotocols=subprotocols, origin=origin):  # type: ignore[arg-type]
                pass
        return caught.value.response.status_code

    url = mine["websocket_url"]
    assert asyncio.run(refused(url, ["dronefleet.v1"])) == 403
    assert asyncio.run(refused(url, ["dronefleet.v1", f"bearer.{theirs['tracking_token']}"])) == 403
    assert (
        asyncio.run(refused(url, mine["websocket_subprotocols"], origin="https://evil.example"))
        == 403
    )

    status_url = f"{config.api_url}/v1/deliveries/{mine['delivery_id']}"
    assert httpx.get(status_url).status_code == 401
    foreign = httpx.get(status_url, headers={"Authorization": f"Bearer {theirs['tracking_token']}"})
    assert foreign.status_code == 403
    assert foreign.headers["content-type"] == "application/problem+json"

    assert httpx.get(f"{config.api_url}/metrics").status_code == 401  # operators only
    operator = {"Authorization": f"Bearer {config.operator_key}"}
    metrics = httpx.get(f"{config.api_url}/metrics", headers=operator).text
    refused = {
        line.split('"')[1]: float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith("dronefleet_ws_refused_total{")
    }
    assert refused["token"] >= 2 and refused["origin"] >= 1
    assert "dronefleet_tracking_consumed_total" in metrics


def test_bad_requests_get_a_problem_document(platform: Platform) -> None:
    config, _, key = platform
    no_key = httpx.post(
        f"{config.api_url}/v1/deliveries", json={"pickup": PICKUP, "dropoff": DROPOFF}
    )
    assert no_key.status_code == 401
    invalid = httpx.post(
        f"{config.api_url}/v1/deliveries",
        headers={"X-API-Key": key},
        json={"pickup": {"lat": 123, "lon": 0}, "dropoff": DROPOFF},
    )
    assert invalid.status_code == 422
    assert invalid.headers["content-type"] == "application/problem+json"
    assert "pickup.lat" in invalid.json()["detail"]


def test_an_oversized_frame_closes_the_connection(platform: Platform) -> None:
    config, _, key = platform
    accepted = request_delivery(config, key)

    async def send_too_much() -> int | None:
        async with websockets.connect(
            accepted["websocket_url"], subprotocols=accepted["websocket_subprotocols"]
        ) as connection:
            await connection.send("x" * 70_000)
            with contextlib.suppress(websockets.ConnectionClosed):
                await asyncio.wait_for(connection.recv(), timeout=10)
                await asyncio.wait_for(connection.recv(), timeout=10)
            return connection.close_code

    assert asyncio.run(send_too_much()) == 1009


def test_tokens_never_reach_the_server_logs(platform: Platform) -> None:
    config, _, key = platform
    accepted = request_delivery(config, key)
    token = accepted["tracking_token"]
    httpx.get(
        f"{config.api_url}/v1/deliveries/{accepted['delivery_id']}",
        headers={"Authorization": f"Bearer {token}"},
    )

    async def connect_once() -> None:
        async with websockets.connect(
            accepted["websocket_url"], subprotocols=accepted["websocket_subprotocols"]
        ):
            pass

    asyncio.run(connect_once())
    log = (config.stack.home / "test-logs" / config.topic_prefix / "api.log").read_text()
    assert accepted["delivery_id"] in log, "the log is the API's (it shows the request path)"
    assert token not in log


def test_a_business_cancels_before_pickup_and_the_customer_sees_it(
    platform: Platform,
) -> None:
    config, _, key = platform
    accepted = request_delivery(config, key)
    delivery_id = accepted["delivery_id"]
    status_url = f"{config.api_url}/v1/deliveries/{delivery_id}"
    bearer = {"Authorization": f"Bearer {accepted['tracking_token']}"}
    asyncio.run(
        wait_for(
            lambda: httpx.get(status_url, headers=bearer).status_code == 200,
            timeout_s=30,
            what="the delivery to reach the read model",
        )
    )
    cancel_url = f"{status_url}/cancel"
    foreign = httpx.post(cancel_url, headers={"X-API-Key": "not-a-key"})
    assert foreign.status_code == 401

    async def cancel_while_watching() -> tuple[list[dict[str, Any]], int | None]:
        watcher = asyncio.create_task(follow(accepted, timeout_s=60))
        await asyncio.sleep(1)
        response = await asyncio.to_thread(
            httpx.post,
            cancel_url,
            headers={"X-API-Key": key},
            json={"reason": "customer changed their mind"},
        )
        assert response.status_code == 202, response.text
        return await watcher

    messages, close_code = asyncio.run(cancel_while_watching())
    updates = [m for m in messages if m["type"] != "state"]
    assert updates[-1]["status"] == "cancelled" and updates[-1]["eta"] is None
    assert messages[-1] == {
        "type": "state",
        "delivery_id": delivery_id,
        "status": "cancelled",
        "reason": "customer changed their mind",
        "waiting_ahead": None,
        "waiting_total": None,
        "quote": None,  # ended: nothing left to quote
    }, "the business's reason follows the final update"
    assert close_code == 1000
    asyncio.run(
        wait_for(
            lambda: httpx.get(status_url, headers=bearer).json()["status"] == "cancelled",
            timeout_s=30,
            what="the read model to show the cancellation",
        )
    )
    again = httpx.post(cancel_url, headers={"X-API-Key": key})
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
