"""The aggregate decides keyed requests and cancellations, and who may cancel."""

from __future__ import annotations

from datetime import timedelta

import pytest

from contracts import (
    CancelDelivery,
    DeliveryCancelled,
    DeliveryRequested,
    GeoPoint,
    RequestDelivery,
    decode_event,
    encode_event,
)
from streams.domain.delivery import (
    IdempotencyConflictError,
    NotTheOwnerError,
    decide,
    evolve,
    fold,
)
from tests.support.factories import DROPOFF, PICKUP, T0, requested

DIGEST = "a" * 64
OTHER_DIGEST = "b" * 64


def keyed_request(digest: str = DIGEST, business: str = "b1") -> RequestDelivery:
    return RequestDelivery(
        command_id="c1",
        delivery_id="d1",
        issued_at=T0,
        business_id=business,
        pickup=PICKUP,
        dropoff=DROPOFF,
        request_digest=digest,
    )


def keyed_cancel(digest: str | None, by: str = "b1", reason: str = "") -> CancelDelivery:
    return CancelDelivery(
        command_id="c2",
        delivery_id="d1",
        issued_at=T0,
        requested_by=by,
        reason=reason,
        request_digest=digest,
    )


def test_a_keyed_request_creates_the_delivery_once_and_refuses_another_body() -> None:
    (event,) = decide(None, keyed_request(), T0 + timedelta(seconds=1))
    assert isinstance(event, DeliveryRequested)
    assert event.sequence == 1 and event.request_digest == DIGEST and event.occurred_at == T0
    state = evolve(None, event)
    assert state.request_digest == DIGEST
    for _ in range(100):  # every retry, from any replica: no second event
        assert decide(state, keyed_request(), T0) == []
    with pytest.raises(IdempotencyConflictError):
        decide(state, keyed_request(OTHER_DIGEST), T0)
    with pytest.raises(IdempotencyConflictError):  # another business cannot land on it
        decide(state, keyed_request(business="b2"), T0)
    with pytest.raises(IdempotencyConflictError):  # nor on an unkeyed delivery
        decide(fold([requested()]), keyed_request(), T0)


def test_the_digest_survives_the_log() -> None:
    (event,) = decide(None, keyed_request(), T0)
    replayed = decode_event(encode_event(event))
    assert isinstance(replayed, DeliveryRequested)
    assert fold([replayed]) == evolve(None, event)


def test_only_the_delivery_s_business_may_cancel() -> None:
    state = fold([requested()])
    assert state is not None
    with pytest.raises(NotTheOwnerError):
        decide(state, keyed_cancel(None, by="b2"), T0)
    (cancelled,) = decide(state, keyed_cancel(None), T0)
    assert isinstance(cancelled, DeliveryCancelled)


def test_a_keyed_cancellation_is_repeated_as_nothing_and_not_reused() -> None:
    state = fold([requested()])
    assert state is not None
    (event,) = decide(state, keyed_cancel(DIGEST, reason="wrong address"), T0)
    assert isinstance(event, DeliveryCancelled) and event.request_digest == DIGEST
    cancelled = evolve(state, event)
    assert decide(cancelled, keyed_cancel(DIGEST, reason="wrong address"), T0) == []
    assert decide(cancelled, keyed_cancel(None), T0) == []  # unkeyed: as before
    with pytest.raises(IdempotencyConflictError):
        decide(cancelled, keyed_cancel(OTHER_DIGEST), T0)


def test_keyed_requests_carry_points_exactly() -> None:
    command = keyed_request()
    (event,) = decide(None, command, T0)
    assert isinstance(event, DeliveryRequested)
    assert event.pickup == GeoPoint(PICKUP.lat, PICKUP.lon) and event.dropoff == DROPOFF
