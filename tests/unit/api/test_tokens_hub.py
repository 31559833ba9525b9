"""The API's pure parts: tracking tokens and the coalescing fan-out hub."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from api import tokens
from api.errors import ForbiddenError, NotAuthenticatedError
from api.hub import TrackingHub
from contracts import TrackingUpdated
from tests.support.factories import T0

SECRET = "s" * 32


def test_token_round_trip() -> None:
    token = tokens.issue(SECRET, "d1", T0, timedelta(hours=1))
    with pytest.raises(NotAuthenticatedError):  # T0 is in the past: expired now
        tokens.verify(SECRET, token, "d1")


def test_token_checks() -> None:
    from contracts import utc_now

    now = utc_now()
    token = tokens.issue(SECRET, "d1", now, timedelta(hours=1))
    tokens.verify(SECRET, token, "d1")
    with pytest.raises(ForbiddenError):
        tokens.verify(SECRET, token, "d2")
    with pytest.raises(NotAuthenticatedError):
        tokens.verify("x" * 32, token, "d1")
    with pytest.raises(NotAuthenticatedError):
        tokens.verify(SECRET, token[:-2], "d1")


def update(delivery_id: str, sequence: int, status: str = "en_route_to_dropoff") -> TrackingUpdated:
    return TrackingUpdated(
        event_id=f"e{sequence}",
        sequence=sequence,
        occurred_at=T0,
        recorded_at=T0,
        delivery_id=delivery_id,
        drone_id="drone-1",
        source_event_id="s",
        lat=47.0,
        lon=8.0,
        altitude_m=60.0,
        ground_speed_mps=15.0,
        status=status,
        remaining_m=100.0,
        eta=T0,  # type: ignore[arg-type]
    )


def test_slow_client_gets_the_newest_update_not_a_backlog() -> None:
    hub = TrackingHub(queue_size=1)
    slow = hub.subscribe("d1")
    other = hub.subscribe("d2")
    for sequence in range(1, 101):
        hub.publish(update("d1", sequence))
    assert slow.queue.qsize() == 1
    assert slow.queue.get_nowait().sequence == 100
    assert slow.coalesced == 99
    assert other.queue.empty()  # never sees another delivery's updates


def test_older_updates_never_replace_newer_ones() -> None:
    hub = TrackingHub()
    hub.publish(update("d1", 5))
    hub.publish(update("d1", 3))
    latest = hub.latest("d1")
    assert latest is not None and latest.sequence == 5


def test_unsubscribed_clients_are_forgotten() -> None:
    hub = TrackingHub()
    subscription = hub.subscribe("d1")
    hub.unsubscribe(subscription)
    hub.publish(update("d1", 1))
    assert subscription.queue.empty()


def test_latest_cache_is_bounded() -> None:
    hub = TrackingHub(latest_cache_size=10)
    for index in range(100):
        hub.publish(update(f"d{index}", 1))
    assert hub.latest("d0") is None and hub.latest("d99") is not None


def test_queue_get_sees_published_updates() -> None:
    async def scenario() -> int:
        hub = TrackingHub()
        subscription = hub.subscribe("d1")
        hub.publish(update("d1", 1))
        got = await asyncio.wait_for(subscription.queue.get(), timeout=1)
        return got.sequence

    assert asyncio.run(scenario()) == 1


def test_a_client_stuck_for_max_missed_updates_is_dropped() -> None:
    hub = TrackingHub(queue_size=1, max_missed=3)
    stuck = hub.subscribe("d1")
    for sequence in range(1, 4):  # the first fills its queue; two are coalesced
        hub.publish(update("d1", sequence))
    assert not stuck.dropped.is_set() and hub.subscribers("d1") == 1
    hub.publish(update("d1", 4))  # a third miss in a row
    assert stuck.dropped.is_set() and hub.dropped == 1
    assert hub.subscribers("d1") == 0 and hub.queued() == 0
    hub.publish(update("d1", 5))
    assert stuck.queue.get_nowait().sequence == 4, "no longer offered anything"


def test_taking_an_update_resets_the_miss_count() -> None:
    async def scenario() -> bool:
        hub = TrackingHub(queue_size=1, max_missed=2)
        slow = hub.subscribe("d1")
        for sequence in range(1, 20, 2):
            hub.publish(update("d1", sequence))
            hub.publish(update("d1", sequence + 1))  # one miss
            await slow.get()  # then it catches up
        return slow.dropped.is_set()

    assert asyncio.run(scenario()) is False


def test_gc_pauses_are_timed_by_generation_while_installed() -> None:
    import gc

    from prometheus_client import CollectorRegistry, generate_latest

    from api.gc_pauses import GcPauses

    pauses = GcPauses(CollectorRegistry())
    pauses.install()
    pauses.install()
    try:
        gc.collect(2)
    finally:
        pauses.uninstall()
    assert pauses._on_gc not in gc.callbacks
    assert pauses.longest_s > 0
    exposed = generate_latest(pauses.histogram).decode()
    assert 'dronefleet_gc_pause_seconds_count{generation="2"} 1.0' in exposed


def test_live_objects_are_frozen_and_unfrozen_for_a_full_collection_now_and_then() -> None:
    import asyncio
    import contextlib
    import gc

    from runtime import freeze_periodically

    seen: list[int] = []

    async def scenario() -> None:
        task = asyncio.create_task(freeze_periodically(every_s=0.01, full_every_s=0.05))
        for _ in range(12):
            await asyncio.sleep(0.01)
            seen.append(gc.get_freeze_count())
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    assert max(seen) > 0, "the live objects were frozen"
    assert gc.get_freeze_count() == 0, "stopping leaves nothing frozen"
