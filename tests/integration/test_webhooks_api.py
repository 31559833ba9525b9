"""Webhook endpoints over the API (issue 23): a business registers, lists, changes, disables
and deletes them, reads every attempt and its dead letters and asks for redelivery.

The API and the projection sink run as processes (`running_api`), the notifier and a
real receiver in the test's loop; the deliveries' events are produced as the stream
worker would, for the business the API registered.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import WebhookVerificationError

from contracts import Topics
from devstack.services import PlatformConfig
from devstack.settings import StackSettings
from tests.support.api_platform import running_api
from tests.support.kafka_helpers import produce, wait_for
from tests.support.webhooks import (
    SIGNING_KEY,
    Received,
    delivery_story,
    notifier_settings,
    receiving,
    rows,
    running_notifier,
    verified,
)

ENV = {
    "DRONEFLEET_API_WEBHOOK_SIGNING_KEY": SIGNING_KEY,
    "DRONEFLEET_API_WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",
}


async def call(method: str, url: str, key: str, **kwargs: Any) -> httpx.Response:
    async with httpx.AsyncClient(timeout=30) as client:
        return await client.request(method, url, headers={"X-API-Key": key}, **kwargs)


async def register_businesses(api: PlatformConfig, *names: str) -> list[tuple[str, str]]:
    """Register each business with the operators' key: (business id, API key) each."""
    registered = []
    for name in names:
        async with httpx.AsyncClient(timeout=30) as client:
            answer = await client.post(
                f"{api.api_url}/v1/businesses",
                headers={"X-Operator-Key": api.operator_key},
                json={"name": name, "contact": f"{name}@example.com"},
            )
        assert answer.status_code == 201, answer.text
        registered.append((answer.json()["business_id"], answer.json()["api_key"]))
    return registered


async def test_a_business_manages_its_endpoints_and_sees_every_attempt(
    running_stack: StackSettings, topics: Topics, fresh_database: Callable[[], str]
) -> None:
    dsn = fresh_database()
    bootstrap = running_stack.kafka_bootstrap
    with running_api(running_stack, topics, dsn, extra_env=ENV) as api:
        (acme, key), (_, other_key) = await register_businesses(api, "acme", "other")
        hooks = f"{api.api_url}/v1/webhooks/endpoints"

        async with (
            receiving() as receiver,
            running_notifier(notifier_settings(bootstrap, topics, dsn)),
        ):
            for url in ("ftp://127.0.0.1/x", "http://169.254.169.254/latest"):
                refused = await call(
                    "POST", hooks, key, json={"url": url, "topics": ["delivery.delivered"]}
                )
                assert refused.status_code == 422, refused.text

            body = {
                "url": receiver.url("/acme"),
                "topics": ["delivery.picked_up", "delivery.delivered"],
            }
            created = await call("POST", hooks, key, json=body)
            assert created.status_code == 201, created.text
            endpoint = created.json()
            secret, endpoint_id = endpoint["secret"], endpoint["endpoint_id"]
            assert secret.startswith("whsec_") and endpoint["status"] == "active"

            listed = (await call("GET", hooks, key)).json()
            assert [e["endpoint_id"] for e in listed] == [endpoint_id]
            assert "secret" not in listed[0]
            assert (await call("GET", hooks, other_key)).json() == []
            for method in ("GET", "PATCH", "DELETE"):
                stranger = await call(method, f"{hooks}/{endpoint_id}", other_key, json={})
                assert stranger.status_code == 404, (method, stranger.text)

            await wait_for(
                lambda: bool(rows(dsn, "SELECT 1 FROM notifier.endpoints")), 30, "the notifier"
            )
            story = delivery_story(acme, "acme-1")
            await produce(bootstrap, topics.deliveries.name, story)
            await wait_for(lambda: len(receiver.delivered("/acme")) == 2, 30, "two messages")
            got = [verified(r, secret) for r in receiver.delivered("/acme")]
            assert [g["type"] for g in got] == ["delivery.picked_up", "delivery.delivered"]

            attempts = (await call("GET", f"{hooks}/{endpoint_id}/attempts", key)).json()
            assert [(a["outcome"], a["response_code"]) for a in attempts] == [
                ("delivered", 200)
            ] * 2
            assert all(a["latency_ms"] > 0 for a in attempts)
            health = (await call("GET", f"{hooks}/{endpoint_id}/health", key)).json()
            assert (health["delivered"], health["pending"], health["dead"]) == (2, 0, 0)

            # The receiver goes down for good: paused, then dead letters, listed.
            receiver.on("/acme").failing = True
            await produce(bootstrap, topics.deliveries.name, delivery_story(acme, "acme-2"))
            dead_url = f"{hooks}/{endpoint_id}/messages?state=dead"

            async def dead() -> list[dict[str, Any]]:
                listed: list[dict[str, Any]] = (await call("GET", dead_url, key)).json()
                return listed

            for _ in range(150):
                if len(await dead()) == 2:
                    break
                await asyncio.sleep(0.2)
            letters = await dead()
            assert [m["topic"] for m in letters] == ["delivery.picked_up", "delivery.delivered"]
            failed = (
                await call(
                    "GET",
                    f"{hooks}/{endpoint_id}/attempts?message_id={letters[0]['message_id']}",
                    key,
                )
            ).json()
            assert [(a["outcome"], a["response_code"]) for a in failed] == [
                ("http_error", 503)
            ] * 4  # tried, then after each of 3 waits

            receiver.on("/acme").failing = False
            again = await call("POST", f"{hooks}/{endpoint_id}/redeliver", key, json={})
            assert again.status_code == 202, again.text
            await wait_for(lambda: len(receiver.delivered("/acme")) == 4, 30, "the redelivery")
            assert await dead() == []

            # Disabled: nothing sent; enabled again: sent again.
            patched = await call("PATCH", f"{hooks}/{endpoint_id}", key, json={"enabled": False})
            assert patched.status_code == 200 and patched.json()["enabled"] is False
            await wait_for(
                lambda: rows(dsn, "SELECT enabled FROM notifier.endpoints") == [(False,)],
                30,
                "the notifier to read the change",
            )
            await produce(bootstrap, topics.deliveries.name, delivery_story(acme, "acme-3"))
            await asyncio.sleep(2.0)
            assert len(receiver.delivered("/acme")) == 4

            deleted = await call("DELETE", f"{hooks}/{endpoint_id}", key)
            assert deleted.status_code == 204
            assert (await call("GET", hooks, key)).json() == []
            assert (await call("GET", f"{hooks}/{endpoint_id}", key)).status_code == 404


def test_a_retried_registration_shows_the_same_endpoint_and_secret(
    running_stack: StackSettings, topics: Topics, fresh_database: Callable[[], str]
) -> None:
    dsn = fresh_database()
    with running_api(running_stack, topics, dsn, extra_env=ENV) as api:
        answer = httpx.post(
            f"{api.api_url}/v1/businesses",
            headers={"X-Operator-Key": api.operator_key},
            json={"name": "retry", "contact": "retry@example.com"},
        )
        key = answer.json()["api_key"]
        hooks = f"{api.api_url}/v1/webhooks/endpoints"
        body = {"url": "https://hooks.example.com/x", "topics": ["delivery.failed"]}
        keyed = {"X-API-Key": key, "Idempotency-Key": "k-1"}
        first, second = [httpx.post(hooks, headers=keyed, json=body) for _ in range(2)]
        assert first.status_code == 201 and second.status_code == 201, second.text
        assert first.json()["endpoint_id"] == second.json()["endpoint_id"]
        assert first.json()["secret"] == second.json()["secret"]
        other = httpx.post(hooks, headers=keyed, json={**body, "topics": ["delivery.delivered"]})
        assert other.status_code == 422 and other.json()["reason"] == "idempotency_key_reused"
        assert len(httpx.get(hooks, headers={"X-API-Key": key}).json()) == 1


async def test_a_rotated_secret_signs_alongside_the_old_one_for_the_grace_then_alone(
    running_stack: StackSettings, topics: Topics, fresh_database: Callable[[], str]
) -> None:
    dsn = fresh_database()
    bootstrap = running_stack.kafka_bootstrap
    with running_api(running_stack, topics, dsn, extra_env=ENV) as api:
        (owner, key), (_, stranger_key) = await register_businesses(api, "rotating", "stranger")
        hooks = f"{api.api_url}/v1/webhooks/endpoints"
        async with (
            receiving() as receiver,
            running_notifier(notifier_settings(bootstrap, topics, dsn)),
        ):
            body = {"url": receiver.url("/rotating"), "topics": ["delivery.delivered"]}
            created = (await call("POST", hooks, key, json=body)).json()
            endpoint_id, old = created["endpoint_id"], created["secret"]
            rotate = f"{hooks}/{endpoint_id}/rotate-secret"
            version = (
                "SELECT secret_version, sequence FROM notifier.endpoints WHERE endpoint_id = %s"
            )
            assert (await call("POST", rotate, stranger_key, json={})).status_code == 404
            await wait_for(
                lambda: bool(rows(dsn, "SELECT 1 FROM notifier.endpoints")), 30, "the notifier"
            )

            async def one_delivery(name: str) -> Received:
                count = len(receiver.delivered("/rotating"))
                await produce(bootstrap, topics.deliveries.name, delivery_story(owner, name))
                await wait_for(lambda: len(receiver.delivered("/rotating")) == count + 1, 30, name)
                return receiver.delivered("/rotating")[-1]

            before = await one_delivery("before")
            verified(before, old)
            assert len(before.headers["webhook-signature"].split()) == 1

            rotated = await call("POST", rotate, key, json={"previous_valid_for_s": 6})
            assert rotated.status_code == 200, rotated.text
            new = rotated.json()["secret"]
            assert new != old and rotated.json()["secret_version"] == 2
            grace_ends = datetime.fromisoformat(rotated.json()["previous_secret_valid_until"])
            await wait_for(
                lambda: rows(dsn, version, endpoint_id) == [(2, 2)],
                30,
                "the notifier to read the rotation",
            )
            during = await one_delivery("during")
            assert datetime.now(UTC) < grace_ends, "the grace ended before the message came"
            verified(during, new)  # a receiver switched over accepts it...
            verified(during, old)  # ...and one still on the old secret too
            assert len(during.headers["webhook-signature"].split()) == 2

            await asyncio.sleep(max((grace_ends - datetime.now(UTC)).total_seconds(), 0) + 0.5)
            after = await one_delivery("after")
            verified(after, new)
            with pytest.raises(WebhookVerificationError):
                verified(after, old)
            assert len(after.headers["webhook-signature"].split()) == 1

            # A change of URL or topics keeps the rotated secret (and no grace returns).
            patched = await call("PATCH", f"{hooks}/{endpoint_id}", key, json={"description": "x"})
            assert patched.status_code == 200, patched.text
            await wait_for(
                lambda: rows(dsn, version, endpoint_id) == [(2, 3)],
                30,
                "the notifier to read the change",
            )
            verified(await one_delivery("patched"), new)
