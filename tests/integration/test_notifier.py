"""The notifier on the real broker, the real database and a real HTTP receiver (issue 23).

Each test has topics of its own (the notifier's group and offsets start from nothing) and
a database of its own. The tests produce the events the API and the stream worker would
(an endpoint's registration, deliveries' events, tracking updates), so every message the
receiver should get is known; `test_webhooks_api.py` drives the API's side.
"""

from __future__ import annotations

import asyncio
import secrets
import signal
import time
from collections.abc import Callable
from datetime import timedelta

import pytest

from contracts import Event, Topics, WebhookRedeliveryRequested, new_event_id, utc_now
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
    execute,
    notifier_process,
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


async def test_a_receiver_that_never_recovers_is_paused_then_dead_lettered_then_redelivered(
    running_stack: StackSettings, own_topics: Topics, fresh_database: Callable[[], str]
) -> None:
    dsn = fresh_database()
    bootstrap = running_stack.kafka_bootstrap
    settings = notifier_settings(
        bootstrap, own_topics, dsn, retry_schedule_s=(0.1, 0.2), pause_after_failures=3, pause_s=1.0
    )
    async with receiving() as receiver, running_notifier(settings):
        receiver.on("/down").failing = True
        await register(bootstrap, own_topics, dsn, "b1", "e1", receiver.url("/down"))
        stories = await deliveries(bootstrap, own_topics, "b1", 3)
        await wait_for(
            lambda: bool(rows(dsn, "SELECT 1 FROM notifier.endpoints WHERE paused_until > now()")),
            30,
            "the endpoint to be paused",
        )
        await wait_for(
            lambda: (
                rows(dsn, "SELECT count(*) FROM notifier.messages WHERE state = 'dead'") == [(12,)]
            ),
            60,
            "every message dead-lettered (heads after their retries, the rest behind them)",
        )
        assert receiver.delivered("/down") == []
        heads = rows(
            dsn,
            "SELECT failures FROM notifier.messages WHERE dead_reason LIKE 'retries exhausted%%'",
        )
        assert heads == [(3,)] * 3, "tried once and after each of the two waits"
        attempts = rows(dsn, "SELECT outcome, response_code FROM notifier.attempts")
        assert set(attempts) == {("http_error", 503)} and len(attempts) == 9

        receiver.on("/down").failing = False  # it is back; the business asks for redelivery
        now = utc_now()
        await produce(
            bootstrap,
            own_topics.businesses.name,
            [
                WebhookRedeliveryRequested(
                    event_id=new_event_id(),
                    sequence=1,
                    occurred_at=now,
                    recorded_at=now,
                    business_id="b1",
                    endpoint_id="e1",
                )
            ],
        )
        await wait_for(
            lambda: first_arrivals(receiver, "/down") == expected(stories),
            60,
            "the dead letters redelivered, in order",
        )
    assert rows(dsn, "SELECT count(*) FROM notifier.messages WHERE state <> 'delivered'") == [(0,)]
    assert rows(dsn, "SELECT paused_until, consecutive_failures FROM notifier.endpoints") == [
        (None, 0)
    ]


async def test_a_slow_receiver_does_not_delay_another(
    running_stack: StackSettings, own_topics: Topics, fresh_database: Callable[[], str]
) -> None:
    dsn = fresh_database()
    bootstrap = running_stack.kafka_bootstrap
    settings = notifier_settings(
        bootstrap,
        own_topics,
        dsn,
        request_timeout_s=30.0,
        per_endpoint_concurrency=2,
        max_in_flight=4,  # the slow endpoint could take every slot if it were not held to 2
    )
    async with receiving() as receiver, running_notifier(settings):
        receiver.on("/slow").hang_s = 20.0
        await register(bootstrap, own_topics, dsn, "slow-business", "slow", receiver.url("/slow"))
        await register(
            bootstrap, own_topics, dsn, "quick-business", "quick", receiver.url("/quick")
        )
        await deliveries(bootstrap, own_topics, "slow-business", 6)
        await asyncio.sleep(0.5)  # the slow endpoint's posts are hanging now
        started = time.monotonic()
        stories = await deliveries(bootstrap, own_topics, "quick-business", 6)
        await wait_for(
            lambda: first_arrivals(receiver, "/quick") == expected(stories),
            15,
            "the quick receiver's messages while the slow one hangs",
        )
        took = time.monotonic() - started
        assert took < 5.0, f"the quick receiver waited {took:.1f}s"
        assert receiver.delivered("/slow") == [], "the slow one is still hanging"
        hanging = [r for r in receiver.arrived if r.path == "/slow"]
        assert len(hanging) <= 2, "no more than the per-endpoint limit in flight"


async def test_a_notifier_killed_mid_stream_loses_nothing_and_repeats_with_the_same_id(
    running_stack: StackSettings, own_topics: Topics, fresh_database: Callable[[], str]
) -> None:
    dsn = fresh_database()
    bootstrap = running_stack.kafka_bootstrap
    settings = notifier_settings(bootstrap, own_topics, dsn)
    log = running_stack.home / "test-logs" / own_topics.prefix / "notifier.log"
    async with receiving() as receiver:
        receiver.on("/hook").hang_s = 0.05  # posts take a while: some are in flight at the kill
        with notifier_process(settings, log) as first:
            await wait_for(
                lambda: bool(rows(dsn, "SELECT 1 FROM pg_namespace WHERE nspname = 'notifier'")),
                30,
                "the notifier's schema",
            )
            await register(bootstrap, own_topics, dsn, "b1", "e1", receiver.url("/hook"))
            stories = await deliveries(bootstrap, own_topics, "b1", 40)
            await wait_for(lambda: len(receiver.got) >= 30, 60, "the first posts")
            first.send_signal(signal.SIGKILL)
            first.wait(10)
        at_kill = len(receiver.got)
        more = await deliveries(bootstrap, own_topics, "b1", 10)  # while it is down
        stories.update(more)
        with notifier_process(settings, log):
            await wait_for(
                lambda: first_arrivals(receiver, "/hook") == expected(stories),
                90,
                "every message after the restart",
            )
    assert at_kill < 200, "the kill came mid-stream"
    ids = [r.message_id for r in receiver.got]
    secret = endpoint_secret(SIGNING_KEY, "e1")
    for received in receiver.got:
        data = verified(received, secret)["data"]
        assert received.message_id == message_id(data["event_id"], "e1")  # a repeat: same id
    assert len(set(ids)) == 200
    no_message_delivered_out_of_order(receiver, "/hook", stories)


async def test_the_database_dropping_the_notifiers_connections_loses_nothing(
    running_stack: StackSettings, own_topics: Topics, fresh_database: Callable[[], str]
) -> None:
    dsn = fresh_database()
    bootstrap = running_stack.kafka_bootstrap
    database = dsn.rsplit("/", 1)[1]
    kill = (
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
        " WHERE datname = %s AND pid <> pg_backend_pid()"
    )
    async with (
        receiving() as receiver,
        running_notifier(notifier_settings(bootstrap, own_topics, dsn)),
    ):
        receiver.on("/hook").hang_s = 0.02
        await register(bootstrap, own_topics, dsn, "b1", "e1", receiver.url("/hook"))
        stories = await deliveries(bootstrap, own_topics, "b1", 20)
        for _ in range(3):  # its sessions cut while it folds and posts, as a restart would
            await asyncio.sleep(0.3)
            rows(dsn, kill, database)
            stories.update(await deliveries(bootstrap, own_topics, "b1", 10))
        await wait_for(
            lambda: first_arrivals(receiver, "/hook") == expected(stories),
            90,
            "every message after the connections were cut",
        )
    no_message_delivered_out_of_order(receiver, "/hook", stories)


async def test_delivered_messages_past_retention_are_deleted_and_nothing_else(
    running_stack: StackSettings, own_topics: Topics, fresh_database: Callable[[], str]
) -> None:
    """Retention deletes delivered messages (and their attempts) once they are old enough,
    a bounded batch at a time, and never a pending message or a dead letter."""
    dsn = fresh_database()
    bootstrap = running_stack.kafka_bootstrap
    settings = notifier_settings(
        bootstrap,
        own_topics,
        dsn,
        retry_schedule_s=(0.1, 120.0),  # the failing endpoint's heads then wait: pending
        retention_s=3.0,
        retention_interval_s=0.2,
        retention_batch=3,
    )
    async with receiving() as receiver, running_notifier(settings):
        receiver.on("/down").failing = True
        await register(bootstrap, own_topics, dsn, "b1", "ok", receiver.url("/ok"))
        await register(bootstrap, own_topics, dsn, "b2", "down", receiver.url("/down"))
        await deliveries(bootstrap, own_topics, "b1", 4)
        await deliveries(bootstrap, own_topics, "b2", 2)
        await wait_for(lambda: len(receiver.delivered("/ok")) == 16, 30, "b1's 16 messages")
        last_delivered = receiver.delivered("/ok")[-1].at
        await wait_for(
            lambda: (
                rows(dsn, "SELECT count(*) FROM notifier.messages WHERE endpoint_id = 'down'")
                == [(8,)]
            ),
            30,
            "b2's messages in the outbox",
        )
        # One of b2's heads dead-lettered a month ago: the business may still redeliver it.
        execute(
            dsn,
            "UPDATE notifier.messages SET state = 'dead', dead_at = now() - interval '30 days',"
            " created_at = now() - interval '30 days' WHERE message_id = (SELECT message_id"
            " FROM notifier.messages WHERE endpoint_id = 'down' ORDER BY position LIMIT 1)",
        )
        await wait_for(
            lambda: (
                rows(dsn, "SELECT count(*) FROM notifier.messages WHERE state = 'delivered'")
                == [(0,)]
            ),
            30,
            "the delivered messages deleted",
        )
        assert time.time() - last_delivered >= 3.0 - 0.5, "deleted before its retention"
    states = rows(dsn, "SELECT state, count(*) FROM notifier.messages GROUP BY 1 ORDER BY 1")
    assert states == [("dead", 1), ("pending", 7)]
    assert rows(dsn, "SELECT count(*) FROM notifier.attempts WHERE endpoint_id = 'ok'") == [(0,)]
    kept = rows(dsn, "SELECT count(*) FROM notifier.attempts WHERE endpoint_id = 'down'")
    assert kept[0][0] >= 2, "the failed attempts of what waits are kept"
