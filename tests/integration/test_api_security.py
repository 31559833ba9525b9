"""The security suite: each of issue 22's defences tried many times as an attacker would.

The API, the projection sink and a stream worker (the delivery aggregate) run as real
processes on this module's topics and database. Every class of attack is tried many
times; each attempt is counted, and how many got in must be 0 (`tests.support.attacks`
keeps the tallies; README's security section quotes them).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from contracts import DeliveryCancelled, DeliveryRequested, Topics, decode_event
from devstack.services import PlatformConfig
from devstack.settings import StackSettings
from tests.support.api_platform import DROPOFF, PICKUP, running_api
from tests.support.attacks import (
    TALLIES,
    is_problem,
    made_up_key,
    metric,
    open_socket,
    records_to_end,
    report,
    socket_status,
    tally,
    until,
)
from tests.support.stream_worker import worker  # noqa: F401  (this module's worker)

MAX_BODY = 4096
PER_ADDRESS = 30
PER_BUSINESS = 10
TOKEN_AFTER_FINAL_S = 3
ROTATION_GRACE_S = 3
GENEROUS = "100000/minute"
"""Rates no test of the main API reaches: each limit is tried on an API of its own."""


@pytest.fixture(scope="module")
def database(fresh_database: Callable[[], str]) -> str:
    return fresh_database()


@pytest.fixture(scope="module")
def api(
    running_stack: StackSettings,
    topics: Topics,
    database: str,
    worker: object,  # noqa: F811  (the aggregate decides keyed requests)
) -> Iterator[PlatformConfig]:
    env = {
        "DRONEFLEET_API_MAX_BODY_BYTES": str(MAX_BODY),
        "DRONEFLEET_API_RATE_PER_ADDRESS": GENEROUS,
        "DRONEFLEET_API_RATE_PER_BUSINESS": GENEROUS,
        "DRONEFLEET_API_UNKNOWN_KEY_TTL_S": "600",
        "DRONEFLEET_API_WS_MAX_PER_TOKEN": "2",
        "DRONEFLEET_API_WS_MAX_PER_BUSINESS": "3",
        "DRONEFLEET_API_TOKEN_AFTER_FINAL_S": str(TOKEN_AFTER_FINAL_S),
        "DRONEFLEET_API_KEY_ROTATION_GRACE_S": str(ROTATION_GRACE_S),
    }
    with running_api(running_stack, topics, database, extra_env=env) as config:
        yield config


@contextlib.contextmanager
def limited_api(
    stack: StackSettings,
    topics: Topics,
    database: str,
    per_address: str,
    per_business: str,
    replica_of: PlatformConfig | None = None,
) -> Iterator[PlatformConfig]:
    """Another API process on the same topics and database, with these rates (and, as a
    replica of `replica_of`, its public URL and token secret)."""
    env = {
        "DRONEFLEET_API_RATE_PER_ADDRESS": per_address,
        "DRONEFLEET_API_RATE_PER_BUSINESS": per_business,
    }
    if replica_of is not None:
        env["DRONEFLEET_API_PUBLIC_URL"] = replica_of.api_url
        env["DRONEFLEET_API_TOKEN_SECRET"] = replica_of.token_secret
    with running_api(
        stack, topics, database, with_sink=False, with_airspace=False, extra_env=env
    ) as config:
        yield config


def register(api: PlatformConfig, name: str, key: str | None = None) -> httpx.Response:
    headers = {"X-Operator-Key": api.operator_key}
    if key is not None:
        headers["Idempotency-Key"] = key
    return httpx.post(
        f"{api.api_url}/v1/businesses",
        headers=headers,
        json={"name": name, "contact": f"{name}@example.com"},
        timeout=30,
    )


def business_key(api: PlatformConfig, name: str) -> str:
    answer = register(api, name)
    assert answer.status_code == 201, answer.text
    key: str = answer.json()["api_key"]
    return key


def order(
    api: PlatformConfig, key: str, idempotency_key: str | None = None, **body: Any
) -> httpx.Response:
    headers = {"X-API-Key": key}
    if idempotency_key is not None:
        headers["Idempotency-Key"] = idempotency_key
    return httpx.post(
        f"{api.api_url}/v1/deliveries",
        headers=headers,
        json={"pickup": PICKUP, "dropoff": DROPOFF, **body},
        timeout=30,
    )


def events_of(topics: Topics, bootstrap: str, delivery_id: str) -> list[Any]:
    """Every event of the deliveries topic for `delivery_id`, after the aggregate's pause."""
    time.sleep(3)  # the aggregate's answers to the last commands are appended meanwhile
    records = asyncio.run(records_to_end(bootstrap, topics.deliveries))
    events = (decode_event(record.value) for record in records)
    return [event for event in events if getattr(event, "delivery_id", None) == delivery_id]


# 1. Limits ------------------------------------------------------------------------------


def test_oversized_bodies_are_refused_before_anyone_is_authenticated(api: PlatformConfig) -> None:
    attempts = tally("oversized bodies (declared and chunked, any key)")
    key = business_key(api, "bodies")
    lookups = metric(api, "dronefleet_api_key_lookups_total")
    padding = "x" * MAX_BODY
    url = f"{api.api_url}/v1/deliveries"
    with httpx.Client(timeout=30) as client:
        for index in range(300):
            headers = {"X-API-Key": made_up_key() if index % 2 else key}
            if index % 3 == 0:  # chunked: no Content-Length to refuse on
                content: Any = iter([json.dumps({"pickup": PICKUP, "note": padding}).encode()])
            else:
                content = json.dumps({"pickup": PICKUP, "dropoff": DROPOFF, "note": padding})
            answer = client.post(url, headers=headers, content=content)
            attempts.count(admitted=not is_problem(answer, 413, "body_too_large"))
    assert attempts.let_in == 0
    assert metric(api, "dronefleet_api_key_lookups_total") == lookups, "refused before auth"


def test_a_burst_from_one_address_is_cut_at_its_rate(
    running_stack: StackSettings, topics: Topics, database: str, api: PlatformConfig
) -> None:
    attempts = tally(f"burst from one address ({PER_ADDRESS}/minute), half with forged XFF")
    with limited_api(running_stack, topics, database, f"{PER_ADDRESS}/minute", GENEROUS) as lim:
        admitted = 0
        with httpx.Client(timeout=30) as client:
            for index in range(300):
                headers = {"X-API-Key": made_up_key()}
                if index % 2:  # a forged client address changes nothing (no trusted proxy)
                    headers["X-Forwarded-For"] = f"10.{index % 256}.0.1"
                answer = client.get(f"{lim.api_url}/v1/deliveries", headers=headers)
                if answer.status_code == 429:
                    assert is_problem(answer, 429, "rate_limited")
                    assert 1 <= int(answer.headers["retry-after"]) <= 60
                else:
                    admitted += 1
                attempts.count(admitted=admitted > PER_ADDRESS and answer.status_code != 429)
            assert client.get(f"{lim.api_url}/healthz").status_code == 200  # never limited
    assert admitted == PER_ADDRESS and attempts.let_in == 0


def test_a_burst_of_one_business_is_cut_at_its_rate(
    running_stack: StackSettings, topics: Topics, database: str, api: PlatformConfig
) -> None:
    attempts = tally(f"burst of one business ({PER_BUSINESS}/minute, every key)")
    key = business_key(api, "bursty")
    other = business_key(api, "calm")
    with limited_api(running_stack, topics, database, GENEROUS, f"{PER_BUSINESS}/minute") as lim:
        served = 0
        with httpx.Client(timeout=30) as client:
            for _ in range(200):
                answer = client.get(f"{lim.api_url}/v1/businesses/me", headers={"X-API-Key": key})
                if answer.status_code == 200:
                    served += 1
                else:
                    assert is_problem(answer, 429, "rate_limited"), answer.text
                    assert int(answer.headers["retry-after"]) >= 1
                attempts.count(admitted=served > PER_BUSINESS and answer.status_code == 200)
            calm = client.get(f"{lim.api_url}/v1/businesses/me", headers={"X-API-Key": other})
    assert served == PER_BUSINESS and attempts.let_in == 0
    assert calm.status_code == 200, "another business keeps its own budget"


def test_an_unknown_key_costs_one_database_query_not_one_a_request(api: PlatformConfig) -> None:
    attempts = tally("one unknown key, over and over")
    unknown = made_up_key()
    before = metric(api, "dronefleet_api_key_lookups_total")
    with httpx.Client(timeout=30) as client:
        for _ in range(500):
            answer = client.get(f"{api.api_url}/v1/deliveries", headers={"X-API-Key": unknown})
            attempts.count(admitted=not is_problem(answer, 401, "not_authenticated"))
    assert attempts.let_in == 0
    assert metric(api, "dronefleet_api_key_lookups_total") - before == 1


def test_sockets_are_capped_per_token_and_per_business(api: PlatformConfig) -> None:
    attempts = tally("sockets past the caps (2 a token, 3 a business)")
    key = business_key(api, "watchers")
    first, second, third = (order(api, key).json() for _ in range(3))

    async def scenario() -> None:
        held = [
            await open_socket(api, first["delivery_id"], first["tracking_token"]),
            await open_socket(api, first["delivery_id"], first["tracking_token"]),
        ]
        try:
            for _ in range(50):  # a third socket of the same token
                status = await asyncio.to_thread(
                    socket_status, api, first["delivery_id"], first["tracking_token"]
                )
                attempts.count(admitted=status != 429)
            held.append(await open_socket(api, second["delivery_id"], second["tracking_token"]))
            for _ in range(50):  # a fourth socket of the business, with a fresh token
                status = await asyncio.to_thread(
                    socket_status, api, third["delivery_id"], third["tracking_token"]
                )
                attempts.count(admitted=status != 429)
        finally:
            for socket in held:
                await socket.close()

    asyncio.run(scenario())
    assert attempts.let_in == 0
    until(
        lambda: socket_status(api, third["delivery_id"], third["tracking_token"]) == 101,
        10,
        "a closed socket to free its place",
    )


# 2. Idempotency -------------------------------------------------------------------------


def unquoted(answer: httpx.Response) -> dict[str, Any]:
    """A 202's body but its quote, which is as of each answer (issue 19): the rest is the same."""
    body: dict[str, Any] = answer.json()
    body.pop("quote", None)
    return body


def test_a_replayed_delivery_request_gets_the_same_answer_and_no_second_event(
    api: PlatformConfig, topics: Topics, running_stack: StackSettings, database: str
) -> None:
    replays = tally("replayed delivery requests (same Idempotency-Key and body; 2 processes)")
    altered = tally("altered delivery requests (same key, another body; 2 processes)")
    key = business_key(api, "careful")
    first = order(api, key, "order-0001")
    assert first.status_code == 202, first.text
    delivery_id = first.json()["delivery_id"]
    status_url = f"{api.api_url}/v1/deliveries/{delivery_id}"
    until(
        lambda: httpx.get(status_url, headers={"X-API-Key": key}).status_code == 200,
        60,
        "the keyed delivery in the read model",
    )
    other_dropoff = {"lat": DROPOFF["lat"] + 0.001, "lon": DROPOFF["lon"]}
    for _ in range(100):
        again = order(api, key, "order-0001")
        replays.count(admitted=again.status_code != 202 or unquoted(again) != unquoted(first))
        changed = order(api, key, "order-0001", dropoff=other_dropoff)
        altered.count(admitted=not is_problem(changed, 422, "idempotency_key_reused"))
    # Another API process (a replica, or this one restarted) answers the same: the log and
    # the read model decide, not a process's memory.
    with limited_api(running_stack, topics, database, GENEROUS, GENEROUS, api) as replica:
        for _ in range(50):
            again = order(replica, key, "order-0001")
            replays.count(admitted=again.status_code != 202 or unquoted(again) != unquoted(first))
            changed = order(replica, key, "order-0001", dropoff=other_dropoff)
            altered.count(admitted=not is_problem(changed, 422, "idempotency_key_reused"))
    other_business = business_key(api, "someone else")
    theirs = order(api, other_business, "order-0001")  # keys are scoped to their business
    assert theirs.status_code == 202 and theirs.json()["delivery_id"] != delivery_id
    requested = [
        e
        for e in events_of(topics, running_stack.kafka_bootstrap, delivery_id)
        if isinstance(e, DeliveryRequested)
    ]
    assert replays.let_in == 0 and altered.let_in == 0
    assert len(requested) == 1 and requested[0].request_digest is not None


def test_concurrent_first_tries_make_one_delivery(
    api: PlatformConfig, topics: Topics, running_stack: StackSettings
) -> None:
    """Before the read model knows it, only the aggregate can tell: it records one."""
    attempts = tally("concurrent first tries (same key, before the read model has it)")
    key = business_key(api, "hasty")
    other_dropoff = {"lat": DROPOFF["lat"] + 0.002, "lon": DROPOFF["lon"]}

    async def burst() -> list[httpx.Response]:
        async with httpx.AsyncClient(timeout=30) as client:
            url = f"{api.api_url}/v1/deliveries"
            headers = {"X-API-Key": key, "Idempotency-Key": "order-race"}
            bodies = [
                {"pickup": PICKUP, "dropoff": DROPOFF if i % 2 else other_dropoff}
                for i in range(20)
            ]
            return list(
                await asyncio.gather(*(client.post(url, headers=headers, json=b) for b in bodies))
            )

    answers = asyncio.run(burst())
    ids = {a.json()["delivery_id"] for a in answers if a.status_code == 202}
    assert len(ids) == 1, "every retry names the same delivery"
    (delivery_id,) = ids
    requested = [
        e
        for e in events_of(topics, running_stack.kafka_bootstrap, delivery_id)
        if isinstance(e, DeliveryRequested)
    ]
    for _ in answers:
        attempts.count(admitted=False)
    attempts.let_in = len(requested) - 1
    assert len(requested) == 1, "one DeliveryRequested whatever the concurrency"


def test_a_replayed_cancellation_is_answered_again_and_recorded_once(
    api: PlatformConfig, topics: Topics, running_stack: StackSettings
) -> None:
    replays = tally("replayed cancellations (same key and reason)")
    altered = tally("altered cancellations (same key, another reason)")
    key = business_key(api, "fickle")
    delivery_id = order(api, key).json()["delivery_id"]
    status_url = f"{api.api_url}/v1/deliveries/{delivery_id}"
    until(
        lambda: httpx.get(status_url, headers={"X-API-Key": key}).status_code == 200,
        60,
        "the delivery in the read model",
    )
    headers = {"X-API-Key": key, "Idempotency-Key": "cancel-1"}
    cancel_url = f"{status_url}/cancel"
    first = httpx.post(cancel_url, headers=headers, json={"reason": "wrong address"})
    assert first.status_code == 202, first.text
    until(
        lambda: httpx.get(status_url, headers={"X-API-Key": key}).json()["status"] == "cancelled",
        60,
        "the cancellation in the read model",
    )
    for _ in range(50):
        again = httpx.post(cancel_url, headers=headers, json={"reason": "wrong address"})
        replays.count(admitted=again.status_code != 202 or again.json() != first.json())
        changed = httpx.post(cancel_url, headers=headers, json={"reason": "changed my mind"})
        altered.count(admitted=not is_problem(changed, 422, "idempotency_key_reused"))
    cancelled = [
        e
        for e in events_of(topics, running_stack.kafka_bootstrap, delivery_id)
        if isinstance(e, DeliveryCancelled)
    ]
    assert replays.let_in == 0 and altered.let_in == 0 and len(cancelled) == 1


def test_a_replayed_registration_shows_the_same_key_and_registers_nothing(
    api: PlatformConfig, topics: Topics, running_stack: StackSettings
) -> None:
    replays = tally("replayed registrations (same key and body)")
    altered = tally("altered registrations (same key, another body)")
    first = register(api, "twice", key="onboard-twice")
    assert first.status_code == 201, first.text
    for _ in range(50):
        again = register(api, "twice", key="onboard-twice")
        replays.count(admitted=again.status_code != 201 or again.json() != first.json())
        changed = register(api, "thrice", key="onboard-twice")
        altered.count(admitted=not is_problem(changed, 422, "idempotency_key_reused"))
    assert replays.let_in == 0 and altered.let_in == 0
    business_id = first.json()["business_id"]
    time.sleep(1)
    records = asyncio.run(records_to_end(running_stack.kafka_bootstrap, topics.businesses))
    mine = [r for r in records if r.key == business_id.encode()]
    assert len(mine) == 1, "one BusinessRegistered for every retry"
    me = httpx.get(
        f"{api.api_url}/v1/businesses/me", headers={"X-API-Key": first.json()["api_key"]}
    )
    assert me.status_code == 200 and me.json()["name"] == "twice"


# 3. Token life ---------------------------------------------------------------------------


def test_a_tracking_token_stops_working_after_its_delivery_ended(api: PlatformConfig) -> None:
    attempts = tally(f"tracking tokens {TOKEN_AFTER_FINAL_S} s after their delivery ended")
    key = business_key(api, "finished")
    accepted = order(api, key).json()
    delivery_id, token = accepted["delivery_id"], accepted["tracking_token"]
    status_url = f"{api.api_url}/v1/deliveries/{delivery_id}"
    bearer = {"Authorization": f"Bearer {token}"}
    until(lambda: httpx.get(status_url, headers=bearer).status_code == 200, 60, "the delivery")
    assert socket_status(api, delivery_id, token) == 101
    cancelled = httpx.post(f"{status_url}/cancel", headers={"X-API-Key": key})
    assert cancelled.status_code == 202, cancelled.text
    until(
        lambda: httpx.get(status_url, headers=bearer).json().get("status") == "cancelled",
        60,
        "the cancellation in the read model",
    )
    time.sleep(TOKEN_AFTER_FINAL_S + 1)
    with httpx.Client(timeout=30) as client:
        for index in range(150):
            if index % 3 == 2:
                attempts.count(admitted=socket_status(api, delivery_id, token) != 403)
                continue
            url = status_url if index % 3 == 0 else f"{status_url}/history"
            answer = client.get(url, headers=bearer)
            attempts.count(admitted=not is_problem(answer, 401, "token_expired"))
    assert attempts.let_in == 0
    business = httpx.get(status_url, headers={"X-API-Key": key})
    assert business.status_code == 200, "the business still reads its delivery"


def test_rotated_out_and_revoked_keys_are_refused_here_and_after_a_restart(
    running_stack: StackSettings, topics: Topics, database: str, api: PlatformConfig
) -> None:
    rotated_out = tally(f"a rotated-out key, {ROTATION_GRACE_S} s after the rotation")
    revoked = tally("a revoked key (this API and one started after the revocation)")
    old_key = business_key(api, "rotating")
    me = f"{api.api_url}/v1/businesses/me"
    rotation = httpx.post(f"{me}/keys", headers={"X-API-Key": old_key})
    assert rotation.status_code == 201, rotation.text
    new_key = rotation.json()["api_key"]
    assert httpx.get(me, headers={"X-API-Key": new_key}).status_code == 200  # at once
    assert httpx.get(me, headers={"X-API-Key": old_key}).status_code == 200  # in its grace
    time.sleep(ROTATION_GRACE_S + 1)
    with httpx.Client(timeout=30) as client:
        for _ in range(100):
            answer = client.get(f"{api.api_url}/v1/deliveries", headers={"X-API-Key": old_key})
            rotated_out.count(admitted=not is_problem(answer, 401, "not_authenticated"))
        assert client.get(me, headers={"X-API-Key": new_key}).status_code == 200
        business_id, key_id = rotation.json()["business_id"], rotation.json()["key_id"]
        revoke = f"{api.api_url}/v1/businesses/{business_id}/keys/{key_id}/revoke"
        assert client.post(revoke, headers={"X-API-Key": new_key}).status_code == 401
        done = client.post(revoke, headers={"X-Operator-Key": api.operator_key})
        assert done.status_code == 200 and done.json()["status"] == "revoked", done.text
        for _ in range(100):
            answer = client.get(me, headers={"X-API-Key": new_key})
            revoked.count(admitted=not is_problem(answer, 401, "not_authenticated"))
    # A process started afterwards folds the same log: the key stays revoked there too.
    with (
        limited_api(running_stack, topics, database, GENEROUS, GENEROUS) as fresh,
        httpx.Client(timeout=30) as client,
    ):
        for key in [new_key] * 50 + [old_key] * 50:
            answer = client.get(f"{fresh.api_url}/v1/businesses/me", headers={"X-API-Key": key})
            revoked.count(admitted=not is_problem(answer, 401, "not_authenticated"))
    assert rotated_out.let_in == 0 and revoked.let_in == 0


# 4. Operators' surfaces -----------------------------------------------------------------


def test_metrics_answer_the_operators_key_only(api: PlatformConfig) -> None:
    attempts = tally("/metrics without the operators' key")
    key = business_key(api, "curious")
    token = order(api, key).json()["tracking_token"]
    credentials: list[dict[str, str]] = [
        {},
        {"Authorization": f"Bearer {made_up_key()}"},
        {"X-API-Key": key},
        {"Authorization": f"Bearer {token}"},
        {"X-Operator-Key": api.operator_key[:-1] + ("1" if api.operator_key[-1] == "0" else "0")},
    ]
    with httpx.Client(timeout=30) as client:
        for index in range(100):
            answer = client.get(f"{api.api_url}/metrics", headers=credentials[index % 5])
            attempts.count(admitted=answer.status_code != 401 or "dronefleet_" in answer.text)
        ok = client.get(
            f"{api.api_url}/metrics", headers={"Authorization": f"Bearer {api.operator_key}"}
        )
    assert attempts.let_in == 0 and ok.status_code == 200 and "dronefleet_ws" in ok.text


def test_docs_load_nothing_from_elsewhere_and_no_policy_echoes_a_header(
    api: PlatformConfig,
) -> None:
    attempts = tally("forged Host headers on the map page and /docs")
    docs = httpx.get(f"{api.api_url}/docs")
    assert docs.status_code == 200 and "cdn" not in docs.text.lower()
    assert "/docs-assets/swagger-ui-bundle.js" in docs.text
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        assert httpx.get(f"{api.api_url}/docs-assets/{asset}").status_code == 200
    page_url = f"{api.api_url}/track/some-delivery"
    policies = {
        "map": httpx.get(page_url).headers["content-security-policy"],
        "docs": docs.headers["content-security-policy"],
    }
    assert "default-src 'none'" in policies["docs"] and "'unsafe-eval'" not in policies["docs"]
    with httpx.Client(timeout=30) as client:
        for index in range(50):
            forged = {"Host": f"evil{index}.example"}
            for name, url in (("map", page_url), ("docs", f"{api.api_url}/docs")):
                answer = client.get(url, headers=forged)
                policy = answer.headers.get("content-security-policy", "")
                attempts.count(admitted=policy != policies[name] or "evil" in policy)
    assert attempts.let_in == 0


def test_zz_report(capsys: pytest.CaptureFixture[str]) -> None:
    """The module's tallies (README's security section quotes them); last by its name."""
    with capsys.disabled():
        print("\n" + report())
    assert TALLIES and all(t.let_in == 0 for t in TALLIES.values())
