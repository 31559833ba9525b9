"""The notifier's fold (`notifier.routing`): who hears of what, in which order, with which body."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from contracts import AnyEvent, WebhookEndpointDeleted, WebhookEndpointUpdated, new_event_id
from contracts.webhooks import message_id
from notifier.routing import Router, Writes
from tests.support.webhooks import delivery_story, endpoint_registered, eta_update

URL = "https://hooks.example.com/x"


def fold(router: Router, events: list[AnyEvent]) -> Writes:
    writes = Writes()
    for event in events:
        router.apply(event, writes)
    return writes


def test_each_delivery_event_becomes_one_message_per_endpoint_in_log_order() -> None:
    router = Router(timedelta(seconds=60))
    fold(router, [endpoint_registered("b1", "e1", URL), endpoint_registered("b1", "e2", URL)])
    story = delivery_story("b1", "d1")
    writes = fold(router, list(story))
    for endpoint in ("e1", "e2"):
        sent = [m for m in writes.messages if m.endpoint_id == endpoint]
        assert [m.event_id for m in sent] == [e.event_id for e in story]
        assert [m.topic for m in sent] == [
            "delivery.requested",
            "delivery.assigned",
            "delivery.picked_up",
            "delivery.delivered",
        ]
        assert all(m.message_id == message_id(m.event_id, endpoint) for m in sent)
    body = json.loads(writes.messages[0].body)
    assert body["type"] == "delivery.requested"
    assert body["data"]["delivery_id"] == "d1" and body["data"]["business_id"] == "b1"


def test_only_the_owners_endpoints_hear_and_only_of_the_topics_they_asked_for() -> None:
    router = Router(timedelta(seconds=60))
    fold(
        router,
        [
            endpoint_registered("b1", "mine", URL, ("delivery.delivered",)),
            endpoint_registered("b2", "theirs", URL),
        ],
    )
    writes = fold(router, list(delivery_story("b1", "d1")))
    assert [(m.endpoint_id, m.topic) for m in writes.messages] == [("mine", "delivery.delivered")]


def test_an_endpoint_is_not_told_of_what_was_recorded_before_it_was_registered() -> None:
    router = Router(timedelta(seconds=60))
    old = delivery_story("b1", "d-old")
    fold(router, [endpoint_registered("b1", "e1", URL)])
    assert fold(router, list(old)).messages == []
    assert len(fold(router, list(delivery_story("b1", "d-new"))).messages) == 4


def test_a_disabled_or_deleted_endpoint_hears_nothing_more() -> None:
    router = Router(timedelta(seconds=60))
    registered = endpoint_registered("b1", "e1", URL)
    fold(router, [registered])
    disabled = WebhookEndpointUpdated(
        event_id=new_event_id(),
        sequence=2,
        occurred_at=registered.occurred_at,
        recorded_at=registered.recorded_at,
        business_id="b1",
        endpoint_id="e1",
        url=URL,
        topics=registered.topics,
        enabled=False,
    )
    writes = fold(router, [disabled, *delivery_story("b1", "d1")])
    assert writes.messages == [] and writes.endpoints["e1"].enabled is False
    enabled = WebhookEndpointUpdated(**{**_fields(disabled), "sequence": 3, "enabled": True})
    assert len(fold(router, [enabled, *delivery_story("b1", "d2")]).messages) == 4
    deleted = WebhookEndpointDeleted(
        event_id=new_event_id(),
        sequence=4,
        occurred_at=registered.occurred_at,
        recorded_at=registered.recorded_at,
        business_id="b1",
        endpoint_id="e1",
    )
    writes = fold(router, [deleted, *delivery_story("b1", "d3")])
    assert writes.messages == [] and writes.endpoints["e1"].deleted
    replayed = fold(router, [registered, enabled])  # a replay cannot bring it back
    assert replayed.endpoints == {}


def test_another_business_cannot_take_an_endpoint_over() -> None:
    router = Router(timedelta(seconds=60))
    fold(router, [endpoint_registered("b1", "e1", URL)])
    taken = endpoint_registered("b2", "e1", "https://evil.example.com/")
    hijack = WebhookEndpointUpdated(**{**_fields(taken), "sequence": 2})
    assert fold(router, [hijack]).endpoints == {}
    assert router.endpoints["e1"].business_id == "b1"


def test_eta_changes_are_sent_when_they_move_more_than_the_setting() -> None:
    router = Router(timedelta(seconds=120))
    fold(router, [endpoint_registered("b1", "e1", URL, ("delivery.eta_changed",))])
    requested = delivery_story("b1", "d1")[0]
    updates = [
        eta_update("d1", 1, timedelta(minutes=10)),  # the first ETA: sent
        eta_update("d1", 2, timedelta(minutes=11)),  # 1 min later: not material
        eta_update("d1", 3, timedelta(minutes=13)),  # 3 min from the one sent: sent
        eta_update("d1", 4, timedelta(minutes=12)),  # 1 min back: not material
    ]
    writes = fold(router, [requested, *updates])
    assert [m.event_id for m in writes.messages] == [updates[0].event_id, updates[2].event_id]
    second = json.loads(writes.messages[1].body)["data"]
    assert second["previous_eta"] == updates[0].eta.isoformat()  # type: ignore[union-attr]
    assert writes.owners["d1"] is not None and writes.owners["d1"].notified_eta == updates[2].eta


def test_a_delivery_is_forgotten_at_its_end() -> None:
    router = Router(timedelta(seconds=60))
    fold(router, [endpoint_registered("b1", "e1", URL)])
    writes = fold(router, list(delivery_story("b1", "d1")))
    assert router.owners == {} and writes.owners == {"d1": None}
    late = fold(router, [eta_update("d1", 9, timedelta(minutes=5))])
    assert late.messages == []


def _fields(event: object) -> dict[str, Any]:
    return {name: getattr(event, name) for name in event.__struct_fields__}  # type: ignore[attr-defined]
