"""The notifier on the real broker, the real database and a real HTTP receiver (issue 23).

Each test has topics of its own (the notifier's group and offsets start from nothing) and
a database of its own. The tests produce the events the API and the stream worker would
(an endpoint's registration, deliveries' events, tracking updates), so every message the
receiver should get is known; `test_webhooks_api.py` drives the API's side.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from datetime import timedelta

import pytest

from contracts import Event, Topics
from contracts.webhooks import endpoint_secret, message_id
from devstack import stack
from devstack.settings import StackSettings
from tests.support.kafka_helpers import produce, wait_for
from tests.support.webhooks import (
    SIGNING_KEY,
    Receiver,
    delivery_story,
    endpoint_registered,
    eta_update,
    notifier_settings,
    receiving,
    rows,
    running_notifier,
    verified,
)


@pytest.fixture
def own_topics(running_stack: StackSettings) -> Topics:
    """Topics of this test alone: its notifier starts with no offsets and no endpoints."""
    layout = Topics.with_prefix(f"t{secrets.token_hex(4)}-")
    stack.up(running_stack, layout)
    return layout


async def register(
    bootstrap: str, topics: Topics, dsn: str, business: str, endpoint: str, url: str
) -> None:
    """Record an endpoint and wait until the notifier has folded it."""
    await produce(bootstrap, topics.businesses.name, [endpoint_registered(business, endpoint, url)])
    await wait_for(
        lambda: bool(
            rows(dsn, "SELECT 1 FROM notifier.endpoints WHERE endpoint_id = %s", endpoint)
        ),
        30,
        "the notifier to know the endpoint",
    )


async def deliveries(
    bootstrap: str, topics: Topics, business: str, count: int
) -> dict[str, list[Event]]:
    """`count` deliveries' four events each, produced interleaved; by delivery id."""
    stories: dict[str, list[Event]] = {f"d{secrets.token_hex(3)}": [] for _ in range(count)}
    for delivery_id in stories:
        stories[delivery_id] = list(delivery_story(business, delivery_id))
    interleaved = [story[i] for i in range(4) for story in stories.values()]
    await produce(bootstrap, topics.deliveries.name, interleaved)
    return stories


def first_arrivals(receiver: Receiver, path: str) -> dict[str, list[str]]:
    """Event ids delivered (2xx) to `path`, by delivery, in order of first arrival."""
    seen: set[str] = set()
    by_delivery: dict[str, list[str]] = {}
    for got in receiver.delivered(path):
        if got.message_id in seen:
            continue
        seen.add(got.message_id)
        data = got.payload["data"]
        by_delivery.setdefault(data["delivery_id"], []).append(data["event_id"])
    return by_delivery


def expected(stories: dict[str, list[Event]]) -> dict[str, list[str]]:
    return {d: [e.event_id for e in story] for d, story in stories.items()}


def no_message_delivered_out_of_order(
    receiver: Receiver, path: str, stories: dict[str, list[Event]]
) -> None:
    """Every 2xx arrival of a delivery's message came after its predecessor's first 2xx."""
    position = {e.event_id: i for story in stories.values() for i, e in enumerate(story)}
    reached: dict[str, int] = {}
    for got in receiver.delivered(path):
        data = got.payload["data"]
        index = position[data["event_id"]]
        assert index <= reached.get(data["delivery_id"], -1) + 1, "a message overtook another"
        reached[data["delivery_id"]] = max(index, reached.get(data["delivery_id"], -1))


async def test_every_event_reaches_the_receiver_signed_and_in_order(
    running_stack: StackSettings, own_topics: Topics, fresh_database: Callable[[], str]
) -> None:
    dsn = fresh_database()
    bootstrap = running_stack.kafka_bootstrap
    async with (
        receiving() as receiver,
        running_notifier(notifier_settings(bootstrap, own_topics, dsn, eta_change_s=60)),
    ):
        await register(bootstrap, own_topics, dsn, "b1", "e1", receiver.url("/hook"))
        stories = await deliveries(bootstrap, own_topics, "b1", 5)
        await deliveries(bootstrap, own_topics, "someone-else", 2)  # not b1's: not sent
        flying = f"d{secrets.token_hex(3)}"  # requested and assigned, not yet delivered
        stories[flying] = [*delivery_story("b1", flying)[:2]]
        await produce(bootstrap, own_topics.deliveries.name, stories[flying])
        await wait_for(
            lambda: bool(rows(dsn, "SELECT 1 FROM notifier.owners WHERE delivery_id = %s", flying)),
            30,
            "the notifier to know who owns the delivery in flight",
        )
        etas = [
            eta_update(flying, 1, timedelta(minutes=10)),
            eta_update(flying, 2, timedelta(minutes=10, seconds=30)),  # not material
            eta_update(flying, 3, timedelta(minutes=15)),
        ]
        await produce(bootstrap, own_topics.tracking.name, etas)
        await wait_for(
            lambda: len(receiver.delivered("/hook")) >= 24, 60, "24 messages at the receiver"
        )
        await asyncio.sleep(1.0)  # nothing more should come
    secret = endpoint_secret(SIGNING_KEY, "e1")
    got = receiver.delivered("/hook")
    assert len(got) == 24, [(r.payload["type"], r.message_id) for r in got]
    for received in got:
        verified(received, secret)  # raises unless the package's verifier accepts it
        assert received.message_id == message_id(received.payload["data"]["event_id"], "e1")
    deliveries_only = {
        d: [i for i in ids if i not in {e.event_id for e in etas}]
        for d, ids in first_arrivals(receiver, "/hook").items()
    }
    assert deliveries_only == expected(stories)
    eta_ids = [
        r.payload["data"]["event_id"] for r in got if r.payload["type"] == "delivery.eta_changed"
    ]
    assert eta_ids == [etas[0].event_id, etas[2].event_id]
    attempts = rows(dsn, "SELECT outcome, response_code FROM notifier.webhook_attempts_view")
    assert attempts == [("delivered", 200)] * 24


async def test_a_receiver_failing_then_recovering_gets_everything_in_order(
    running_stack: StackSettings, own_topics: Topics, fresh_database: Callable[[], str]
) -> None:
    dsn = fresh_database()
    bootstrap = running_stack.kafka_bootstrap
    settings = notifier_settings(
        bootstrap, own_topics, dsn, retry_schedule_s=(0.2, 0.2, 0.4, 0.4, 0.8, 0.8, 1.0, 1.0)
    )
    async with receiving() as receiver, running_notifier(settings):
        receiver.on("/flaky").fail_next = 12
        await register(bootstrap, own_topics, dsn, "b1", "e1", receiver.url("/flaky"))
        stories = await deliveries(bootstrap, own_topics, "b1", 6)
        await wait_for(
            lambda: first_arrivals(receiver, "/flaky") == expected(stories),
            90,
            "every message, in order, after the failures",
        )
    no_message_delivered_out_of_order(receiver, "/flaky", stories)
    failed = [code for path, code in receiver.answered if code >= 300]
    assert len(failed) == 12
    outcomes = rows(
        dsn, "SELECT outcome, count(*) FROM notifier.webhook_attempts_view GROUP BY 1 ORDER BY 1"
    )
    assert outcomes == [("delivered", 24), ("http_error", 12)]
    assert rows(dsn, "SELECT count(*) FROM notifier.messages WHERE state <> 'delivered'") == [(0,)]
