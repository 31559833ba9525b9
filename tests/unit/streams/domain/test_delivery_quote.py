"""The quote given at request time is recorded with the request (issue 19, part 1).

The API quotes a delivery before it sends the request, and the quote travels in
`RequestDelivery` (keyed) or `DeliveryRequested` (unkeyed); the aggregate copies a keyed
request's quote into the event it records. A retry is quoted anew by the API, but the
recorded quote is the first one's, and the quote is no part of the request's digest.
"""

from __future__ import annotations

import json
from datetime import timedelta

from contracts import (
    DeliveryRequested,
    RequestDelivery,
    decode_command,
    decode_event,
    encode_command,
    encode_event,
)
from streams.domain.delivery import decide, evolve
from streams.processors.delivery_processor import DeliveryProcessor
from streams.processors.delivery_repository import DeliveryRepository
from tests.support.factories import DROPOFF, PICKUP, T0, requested
from tests.support.processor_inputs import command_record

DIGEST = "c" * 64
PICKUP_AT = T0 + timedelta(seconds=95)
DROPOFF_AT = T0 + timedelta(seconds=410)


def keyed_request(quoted_at: timedelta | None = timedelta(0)) -> RequestDelivery:
    """A keyed request quoted `quoted_at` after T0 (None: no quote), as the API sends it."""
    shift = quoted_at if quoted_at is not None else timedelta(0)
    return RequestDelivery(
        command_id="c1",
        delivery_id="d1",
        issued_at=T0 + shift,
        business_id="b1",
        pickup=PICKUP,
        dropoff=DROPOFF,
        request_digest=DIGEST,
        quoted_at=None if quoted_at is None else T0 + shift,
        quoted_pickup_at=None if quoted_at is None else PICKUP_AT + shift,
        quoted_dropoff_at=None if quoted_at is None else DROPOFF_AT + shift,
    )


def test_a_keyed_request_s_quote_is_copied_into_the_event() -> None:
    (event,) = decide(None, keyed_request(), T0 + timedelta(seconds=1))
    assert isinstance(event, DeliveryRequested)
    assert (event.quoted_at, event.quoted_pickup_at, event.quoted_dropoff_at) == (
        T0,
        PICKUP_AT,
        DROPOFF_AT,
    )


def test_a_request_without_a_quote_is_recorded_without_one() -> None:
    (event,) = decide(None, keyed_request(None), T0)
    assert isinstance(event, DeliveryRequested)
    assert (event.quoted_at, event.quoted_pickup_at, event.quoted_dropoff_at) == (None,) * 3


def test_a_retry_quoted_anew_changes_nothing_and_is_no_conflict() -> None:
    """The digest does not cover the quote: a retry's later quote is the same request."""
    (event,) = decide(None, keyed_request(), T0)
    assert isinstance(event, DeliveryRequested)
    state = evolve(None, event)
    retry = keyed_request(timedelta(seconds=30))
    assert retry.quoted_pickup_at != event.quoted_pickup_at
    assert decide(state, retry, T0 + timedelta(seconds=30)) == []


def test_the_processor_appends_the_quote_once_and_keeps_the_first() -> None:
    processor = DeliveryProcessor.over_tables(
        DeliveryRepository(states={}, tracking={}, parked={}),
        commands_topic="delivery-commands",
        min_interval=timedelta(seconds=1),
    )
    first = processor.process(command_record(keyed_request()), T0)
    appended = [decode_event(out.value) for out in first if out.topic == "deliveries"]
    (event,) = appended
    assert isinstance(event, DeliveryRequested) and event.quoted_dropoff_at == DROPOFF_AT
    again = processor.process(command_record(keyed_request(timedelta(seconds=30))), T0)
    assert again == []  # a retry: nothing appended, so the first quote stays the recorded one


def test_the_quote_survives_the_log_both_ways() -> None:
    command = keyed_request()
    assert decode_command(encode_command(command)) == command
    (event,) = decide(None, command, T0)
    assert decode_event(encode_event(event)) == event


def test_records_from_before_the_quote_decode_with_none() -> None:
    """A request recorded before issue 19 has no quote fields: it still decodes."""
    old_event = json.loads(encode_event(requested()))
    old_command = json.loads(encode_command(keyed_request(None)))
    for record in (old_event, old_command):
        for field in ("quoted_at", "quoted_pickup_at", "quoted_dropoff_at"):
            del record[field]
    event = decode_event(json.dumps(old_event).encode())
    command = decode_command(json.dumps(old_command).encode())
    assert isinstance(event, DeliveryRequested) and isinstance(command, RequestDelivery)
    assert event.quoted_at is None and event.quoted_dropoff_at is None
    assert command.quoted_pickup_at is None and command == keyed_request(None)
