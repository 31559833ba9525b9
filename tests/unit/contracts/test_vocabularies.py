"""Each vocabulary of the contracts has one source; the derived listings stay complete.

The event classes are listed once (the `DeliveryEvent` union and the other event
classes in `AnyEvent`); the codec's `EVENT_TYPES` and `DELIVERY_EVENT_TYPES` are derived.
The statuses come in two vocabularies, the aggregate's and the customer's, joined by
`shown_status`: these tests fail when a new class or status is forgotten by one of them.
"""

from __future__ import annotations

from typing import get_args

import msgspec
import pytest

from contracts import (
    CANCELLABLE_STATUSES,
    DELIVERY_EVENT_TYPES,
    EVENT_TYPES,
    FINAL_STATUSES,
    DecodeError,
    DeliveryStatus,
    Event,
    TrackingStatus,
    decode_event,
    encode_event,
    shown_status,
)
from tests.support.factories import tracking

DELIVERY_STATUSES: tuple[DeliveryStatus, ...] = get_args(DeliveryStatus)
TRACKING_STATUSES: tuple[TrackingStatus, ...] = get_args(TrackingStatus)


def all_subclasses(cls: type[Event]) -> set[type[Event]]:
    direct = set(cls.__subclasses__())
    return direct.union(*(all_subclasses(sub) for sub in direct))


def test_the_codec_knows_every_event_class() -> None:
    assert set(EVENT_TYPES.values()) == all_subclasses(Event)
    assert all(name == cls.__name__ for name, cls in EVENT_TYPES.items())


def test_delivery_events_are_the_delivery_aggregates_events_of_the_codec() -> None:
    assert set(DELIVERY_EVENT_TYPES) <= set(EVENT_TYPES.values())
    assert all(cls.AGGREGATE == "delivery_id" for cls in DELIVERY_EVENT_TYPES)


@pytest.mark.parametrize("status", DELIVERY_STATUSES)
def test_every_aggregate_state_is_shown_as_a_tracking_status(status: DeliveryStatus) -> None:
    assert shown_status(status) in TRACKING_STATUSES


def test_every_tracking_status_is_shown_for_some_aggregate_state() -> None:
    assert {shown_status(status) for status in DELIVERY_STATUSES} == set(TRACKING_STATUSES)


def test_the_customer_sees_the_drone_en_route_while_it_flies() -> None:
    assert shown_status("assigned") == "en_route_to_pickup"
    assert shown_status("picked_up") == "en_route_to_dropoff"


def test_final_and_cancellable_statuses_belong_to_their_vocabularies() -> None:
    assert FINAL_STATUSES.issubset(set(DELIVERY_STATUSES) & set(TRACKING_STATUSES))
    assert set(CANCELLABLE_STATUSES) <= set(DELIVERY_STATUSES) - FINAL_STATUSES


@pytest.mark.parametrize("status", TRACKING_STATUSES)
def test_every_tracking_status_decodes(status: TrackingStatus) -> None:
    update = tracking(status=status)
    assert decode_event(encode_event(update)) == update


@pytest.mark.parametrize("status", sorted(set(DELIVERY_STATUSES) - set(TRACKING_STATUSES)))
def test_a_tracking_update_never_carries_an_aggregate_only_state(status: str) -> None:
    payload = msgspec.to_builtins(tracking()) | {"status": status}
    with pytest.raises(DecodeError) as caught:
        decode_event(msgspec.json.encode(payload))
    assert caught.value.reason == "invalid_event"
