"""Keyed requests through the deliveries processor: one event, retries silent, reuse refused."""

from __future__ import annotations

from datetime import timedelta

from contracts import (
    DeliveryRequested,
    RequestDelivery,
    decode_dead_letter,
    decode_event,
)
from streams.processors.delivery_processor import DeliveryProcessor
from streams.processors.delivery_repository import DeliveryRepository
from tests.support.factories import DROPOFF, PICKUP, T0
from tests.support.processor_inputs import command_record, record


def keyed(digest: str) -> RequestDelivery:
    return RequestDelivery(
        command_id="c1",
        delivery_id="d1",
        issued_at=T0,
        business_id="b1",
        pickup=PICKUP,
        dropoff=DROPOFF,
        request_digest=digest,
    )


def test_a_keyed_request_is_recorded_once_whatever_the_retries() -> None:
    processor = DeliveryProcessor.over_tables(
        DeliveryRepository(states={}, tracking={}, parked={}),
        commands_topic="delivery-commands",
        min_interval=timedelta(seconds=1),
    )
    first = processor.process(command_record(keyed("a" * 64)), T0)
    assert sorted(out.topic for out in first) == ["deliveries", "dispatch"]
    (appended,) = [out for out in first if out.topic == "deliveries"]
    event = decode_event(appended.value)
    assert isinstance(event, DeliveryRequested) and event.request_digest == "a" * 64
    assert processor.process(record(event, "deliveries"), T0) == []  # our own event back
    retries = [processor.process(command_record(keyed("a" * 64)), T0) for _ in range(50)]
    assert retries == [[]] * 50
    (refused,) = processor.process(command_record(keyed("b" * 64)), T0)
    assert refused.topic == "deadletter"
    letter = decode_dead_letter(refused.value)
    assert letter.reason == "command_refused" and "Idempotency-Key" in letter.detail
