"""The quote is recorded with the request, on the real stack (issue 19, parts 1 and 5).

The API (with the bundled airspace), the projection sink and a real stream worker run
on this module's topics and database. A request's `DeliveryRequested` on the
deliveries topic carries the very quote its 202 gave: written by the API for an unkeyed
request, by the aggregate from `RequestDelivery` for a keyed one, whose retry (quoted
anew) records nothing and leaves the first quote in the log. The sink projects both
into `delivery_quote_error_view` with the same quote.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import httpx
import psycopg
import pytest
from aiokafka.structs import ConsumerRecord

from contracts import DeliveryRequested, RequestDelivery, Topics, decode_command, decode_event
from devstack.services import PlatformConfig
from devstack.settings import StackSettings
from tests.support.api_platform import DROPOFF, PICKUP, running_api
from tests.support.kafka_helpers import collect, wait_for
from tests.support.stream_worker import worker  # noqa: F401  (a module fixture)

Quote = tuple[datetime, datetime, datetime]
"""(quoted_at, pickup, drop-off)."""


@pytest.fixture(scope="module")
def platform(
    running_stack: StackSettings,
    topics: Topics,
    fresh_database: Callable[[], str],
    worker: Any,  # noqa: F811
) -> Iterator[tuple[PlatformConfig, str]]:
    dsn = fresh_database()
    with running_api(running_stack, topics, dsn) as config:
        yield config, dsn


@pytest.fixture(scope="module")
def key(platform: tuple[PlatformConfig, str]) -> str:
    api, _ = platform
    response = httpx.post(
        f"{api.api_url}/v1/businesses",
        headers={"X-Operator-Key": api.operator_key},
        json={"name": "quoted", "contact": "quoted@example.com"},
    )
    assert response.status_code == 201, response.text
    api_key: str = response.json()["api_key"]
    return api_key


def ask(api: PlatformConfig, key: str, idempotency_key: str | None = None) -> dict[str, Any]:
    headers = {"X-API-Key": key}
    if idempotency_key is not None:
        headers["Idempotency-Key"] = idempotency_key
    response = httpx.post(
        f"{api.api_url}/v1/deliveries",
        headers=headers,
        json={"pickup": PICKUP, "dropoff": DROPOFF},
        timeout=30,
    )
    assert response.status_code == 202, response.text
    body: dict[str, Any] = response.json()
    return body


def quote_of(answer: dict[str, Any]) -> Quote:
    """The quote a 202 gave (it must have one: the airspace is published)."""
    quote = answer["quote"]
    assert quote is not None, answer
    return (
        datetime.fromisoformat(quote["quoted_at"]),
        datetime.fromisoformat(quote["pickup_eta"]),
        datetime.fromisoformat(quote["dropoff_eta"]),
    )


def requests_on(api: PlatformConfig, delivery_ids: set[str]) -> list[DeliveryRequested]:
    """The deliveries topic's `DeliveryRequested` of these deliveries, once all are there."""
    topic = f"{api.topic_prefix}deliveries"

    def requests(records: list[ConsumerRecord[bytes, bytes]]) -> list[DeliveryRequested]:
        return [
            event
            for event in (decode_event(record.value) for record in records if record.value)
            if isinstance(event, DeliveryRequested) and event.delivery_id in delivery_ids
        ]

    def all_there(records: list[ConsumerRecord[bytes, bytes]]) -> bool:
        return {event.delivery_id for event in requests(records)} == delivery_ids

    return requests(asyncio.run(collect(api.stack.kafka_bootstrap, topic, all_there)))


def commands_for(api: PlatformConfig, delivery_id: str) -> list[RequestDelivery]:
    """The `RequestDelivery` commands the API sent for the delivery."""
    topic = f"{api.topic_prefix}delivery-commands"

    def mine(records: list[ConsumerRecord[bytes, bytes]]) -> list[RequestDelivery]:
        commands = (decode_command(record.value) for record in records if record.value)
        return [
            c for c in commands if isinstance(c, RequestDelivery) and c.delivery_id == delivery_id
        ]

    return mine(asyncio.run(collect(api.stack.kafka_bootstrap, topic, lambda r: bool(mine(r)))))


def recorded(event: DeliveryRequested) -> Quote | None:
    if event.quoted_at is None or event.quoted_pickup_at is None:
        return None
    assert event.quoted_dropoff_at is not None
    return event.quoted_at, event.quoted_pickup_at, event.quoted_dropoff_at


@pytest.fixture(scope="module")
def answers(platform: tuple[PlatformConfig, str], key: str) -> dict[str, dict[str, Any]]:
    """An unkeyed request, a keyed one and its immediate retry (quoted anew)."""
    api, _ = platform
    return {
        "unkeyed": ask(api, key),
        "keyed": ask(api, key, "order-q1"),
        "retry": ask(api, key, "order-q1"),
    }


def test_each_request_s_event_on_the_topic_carries_the_quote_of_its_202(
    platform: tuple[PlatformConfig, str], answers: dict[str, dict[str, Any]]
) -> None:
    api, _ = platform
    unkeyed, keyed, retry = answers["unkeyed"], answers["keyed"], answers["retry"]
    assert retry["delivery_id"] == keyed["delivery_id"]
    assert quote_of(retry)[0] > quote_of(keyed)[0]  # the retry's answer is quoted anew
    events = requests_on(api, {unkeyed["delivery_id"], keyed["delivery_id"]})
    by_id: dict[str, list[Quote | None]] = {}
    for event in events:
        by_id.setdefault(event.delivery_id, []).append(recorded(event))
    assert by_id == {
        unkeyed["delivery_id"]: [quote_of(unkeyed)],
        keyed["delivery_id"]: [quote_of(keyed)],  # once, the first request's quote
    }


def test_the_keyed_request_s_command_carried_its_quote_outside_its_digest(
    platform: tuple[PlatformConfig, str], answers: dict[str, dict[str, Any]]
) -> None:
    api, _ = platform
    commands = commands_for(api, answers["keyed"]["delivery_id"])
    first = commands[0]
    assert (first.quoted_at, first.quoted_pickup_at, first.quoted_dropoff_at) == quote_of(
        answers["keyed"]
    )
    assert {command.request_digest for command in commands} == {first.request_digest}


def test_the_view_measures_the_quotes_the_202s_gave(
    platform: tuple[PlatformConfig, str], answers: dict[str, dict[str, Any]]
) -> None:
    _, dsn = platform
    wanted = {answers["unkeyed"]["delivery_id"], answers["keyed"]["delivery_id"]}

    def rows() -> dict[str, tuple[Any, ...]]:
        with psycopg.connect(dsn) as conn:
            found = conn.execute(
                "SELECT delivery_id, quoted_at, quoted_pickup_at, quoted_dropoff_at,"
                " picked_up_at, pickup_error_s FROM delivery_quote_error_view"
            ).fetchall()
        return {row[0]: row[1:] for row in found if row[0] in wanted}

    asyncio.run(wait_for(lambda: set(rows()) == wanted, 60, "the quotes in the view"))
    found = rows()
    for name in ("unkeyed", "keyed"):
        answer = answers[name]
        assert found[answer["delivery_id"]] == (*quote_of(answer), None, None), name
