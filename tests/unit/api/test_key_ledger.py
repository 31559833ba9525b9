"""The key ledger folds rotations and revocations from the businesses topic."""

from __future__ import annotations

from datetime import timedelta

from api.key_ledger import KeyLedger
from contracts import (
    BusinessKeyRevoked,
    BusinessKeyRotated,
    BusinessRegistered,
    encode_event,
)
from tests.support.factories import T0

SHA = "c" * 64


def registered() -> BusinessRegistered:
    return BusinessRegistered(
        event_id="e1",
        sequence=1,
        occurred_at=T0,
        recorded_at=T0,
        business_id="b1",
        name="shop",
        contact="shop@example.com",
        key_id="k-old",
        key_sha256=SHA,
    )


def rotated() -> BusinessKeyRotated:
    return BusinessKeyRotated(
        event_id="e2",
        sequence=2,
        occurred_at=T0,
        recorded_at=T0,
        business_id="b1",
        key_id="k-new",
        key_sha256=SHA,
        previous_key_id="k-old",
        previous_valid_until=T0 + timedelta(hours=1),
    )


def revoked(key_id: str) -> BusinessKeyRevoked:
    return BusinessKeyRevoked(
        event_id="e3",
        sequence=3,
        occurred_at=T0,
        recorded_at=T0,
        business_id="b1",
        key_id=key_id,
    )


def test_a_rotated_out_key_works_until_its_grace_ends_and_the_new_one_at_once() -> None:
    ledger = KeyLedger()
    for event in (registered(), rotated()):
        ledger.on_value(encode_event(event))
    assert ledger.issued["k-new"].business_id == "b1"
    assert not ledger.refuses("k-old", T0 + timedelta(minutes=59))
    assert ledger.refuses("k-old", T0 + timedelta(minutes=61))
    assert not ledger.refuses("k-new", T0 + timedelta(days=365))
    assert ledger.next_sequence("b1") == 3 and ledger.owners["k-new"] == "b1"


def test_a_revoked_key_is_refused_for_good_and_replays_change_nothing() -> None:
    ledger = KeyLedger()
    records = [encode_event(e) for e in (registered(), rotated(), revoked("k-new"))]
    for value in records + records + [b"{not json"]:  # at-least-once, and a bad record
        ledger.on_value(value)
    assert ledger.refuses("k-new", T0) and ledger.revoked == {"k-new"}
    assert ledger.next_sequence("b1") == 4


def test_rotating_again_with_a_retiring_key_does_not_extend_its_life() -> None:
    ledger = KeyLedger()
    again = BusinessKeyRotated(
        event_id="e4",
        sequence=3,
        occurred_at=T0 + timedelta(minutes=50),
        recorded_at=T0 + timedelta(minutes=50),
        business_id="b1",
        key_id="k-newer",
        key_sha256=SHA,
        previous_key_id="k-old",
        previous_valid_until=T0 + timedelta(minutes=110),
    )
    for event in (registered(), rotated(), again):
        ledger.on_value(encode_event(event))
    assert ledger.refuses("k-old", T0 + timedelta(minutes=61))
