"""The wire contract: every event survives encode/decode, and bad bytes fail clearly."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts import (
    DecodeError,
    DeliveryRequested,
    Event,
    TrackingUpdated,
    decode_command,
    decode_event,
    encode_command,
    encode_event,
)
from contracts.codec import UPCASTERS, register_upcaster
from contracts.events import EVENT_TYPES
from tests.support.strategies import COMMAND_STRATEGIES, EVENT_STRATEGIES, any_event


def test_every_event_type_has_a_strategy() -> None:
    assert set(EVENT_STRATEGIES) == set(EVENT_TYPES)


@pytest.mark.parametrize("event_type", sorted(EVENT_STRATEGIES))
@settings(max_examples=200)
@given(data=st.data())
def test_round_trip(event_type: str, data: st.DataObject) -> None:
    event = data.draw(EVENT_STRATEGIES[event_type])
    decoded = decode_event(encode_event(event))
    assert decoded == event
    assert type(decoded).__name__ == event_type
    assert decoded.event_type == event_type


@given(any_event)
def test_wire_form_carries_the_envelope(event: Event) -> None:
    payload = msgspec.json.decode(encode_event(event))
    assert payload["event_type"] == type(event).__name__
    assert payload["schema_version"] == 1
    assert payload["event_id"] == event.event_id
    assert payload["sequence"] == event.sequence
    assert payload[event.AGGREGATE] == event.aggregate_id


@given(any_event)
def test_events_are_frozen(event: Event) -> None:
    with pytest.raises(AttributeError):
        event.sequence = 99  # type: ignore[misc]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\xff\xfe not json", "undecodable"),
        (b'{"event_type": "PickedUp", "event_id": "\x9c"}', "undecodable"),  # bad UTF-8 in a string
        (b"[1, 2]", "not_an_object"),
        (b'{"event_type": "Nope"}', "unknown_event_type"),
        (b'{"event_type": "PickedUp", "schema_version": 9}', "unknown_schema_version"),
        (b'{"event_type": "PickedUp", "event_id": "x"}', "invalid_event"),
    ],
)
def test_bad_bytes_give_a_reason(data: bytes, reason: str) -> None:
    with pytest.raises(DecodeError) as caught:
        decode_event(data)
    assert caught.value.reason == reason


@settings(max_examples=300)
@given(event=any_event, data=st.data())
def test_any_corrupted_byte_is_a_decode_error_or_an_event(
    event: Event, data: st.DataObject
) -> None:
    """The chaos mode's `corrupt` flips a byte anywhere: only DecodeError may come out.

    Found by `make chaos`: a byte inside the `event_type` string made the fast path fail
    with msgspec's DecodeError and the generic decoder of the slow path then raised
    UnicodeDecodeError, which killed the sink on every restart.
    """
    wire = bytearray(encode_event(event))
    position = data.draw(st.integers(0, len(wire) - 1), label="position")
    wire[position] = data.draw(st.integers(0x80, 0xFF), label="byte")  # never valid alone
    reason: str | None = None
    decoded_type: str | None
    try:
        decoded_type = decode_event(bytes(wire)).event_type
    except DecodeError as error:
        reason, decoded_type = error.reason, None
    assert reason or decoded_type in EVENT_TYPES


def _requested_payload(**overrides: object) -> dict[str, object]:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    payload: dict[str, object] = {
        "event_type": "DeliveryRequested",
        "event_id": "e1",
        "schema_version": 1,
        "sequence": 1,
        "occurred_at": now.isoformat(),
        "recorded_at": now.isoformat(),
        "delivery_id": "d1",
        "business_id": "b1",
        "pickup": {"lat": 1.0, "lon": 2.0},
        "dropoff": {"lat": 3.0, "lon": 4.0},
    }
    payload.update(overrides)
    return payload


@pytest.mark.parametrize(
    "override",
    [
        {"pickup": {"lat": 91.0, "lon": 0.0}},
        {"dropoff": {"lat": 0.0, "lon": -181.0}},
        {"sequence": 0},
        {"occurred_at": "2026-01-01T00:00:00"},  # naive: no timezone
        {"pickup": {"lat": None, "lon": 0.0}},  # what NaN becomes in JSON
    ],
)
def test_invalid_values_are_refused(override: dict[str, object]) -> None:
    with pytest.raises(DecodeError) as caught:
        decode_event(msgspec.json.encode(_requested_payload(**override)))
    assert caught.value.reason == "invalid_event"


def test_old_versions_are_upcast(monkeypatch: pytest.MonkeyPatch) -> None:
    """A v1 payload whose current schema is v2 goes through the registered upcaster."""
    monkeypatch.setattr(DeliveryRequested, "SCHEMA_VERSION", 2)
    monkeypatch.setattr("contracts.codec.UPCASTERS", dict(UPCASTERS))

    @register_upcaster("DeliveryRequested", 1)
    def rename_shop(payload: dict[str, object]) -> dict[str, object]:
        payload["business_id"] = payload.pop("shop_id")
        return payload

    old = _requested_payload(shop_id="legacy-shop")
    del old["business_id"]
    decoded = decode_event(msgspec.json.encode(old))
    assert isinstance(decoded, DeliveryRequested)
    assert decoded.business_id == "legacy-shop"
    assert decoded.schema_version == 2


def test_missing_upcaster_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(DeliveryRequested, "SCHEMA_VERSION", 2)
    monkeypatch.setattr("contracts.codec.UPCASTERS", {})
    old = _requested_payload(shop_id="x")
    del old["business_id"]
    with pytest.raises(DecodeError) as caught:
        decode_event(msgspec.json.encode(old))
    assert caught.value.reason == "no_upcaster"


def test_every_command_type_has_a_strategy() -> None:
    from contracts.commands import AnyCommand

    assert set(COMMAND_STRATEGIES) == {cls.__name__ for cls in AnyCommand.__args__}


@pytest.mark.parametrize("command_type", sorted(COMMAND_STRATEGIES))
@settings(max_examples=100)
@given(data=st.data())
def test_command_round_trip(command_type: str, data: st.DataObject) -> None:
    command = data.draw(COMMAND_STRATEGIES[command_type])
    decoded = decode_command(encode_command(command))
    assert decoded == command
    assert decoded.command_type == command_type


def test_bad_commands_are_refused_with_a_reason() -> None:
    with pytest.raises(DecodeError) as caught:
        decode_command(b'{"command_type": "LaunchMissiles", "delivery_id": "d1"}')
    assert caught.value.reason == "invalid_command"


def test_a_tracking_update_recorded_before_the_window_decodes_without_one() -> None:
    """Issue 19's window is optional: the log's older updates (no `eta_earliest`,
    `eta_latest`) still decode, with None for both."""
    old = {
        "event_type": "TrackingUpdated",
        "schema_version": 1,
        "event_id": "e-1",
        "sequence": 3,
        "occurred_at": "2026-12-06T00:00:00Z",
        "recorded_at": "2026-12-06T00:00:00Z",
        "delivery_id": "d-1",
        "drone_id": "drone-1",
        "source_event_id": "fix-1",
        "lat": 47.37,
        "lon": 8.54,
        "altitude_m": 60.0,
        "ground_speed_mps": 12.0,
        "status": "en_route_to_dropoff",
        "remaining_m": 1200.0,
        "eta": "2026-12-06T00:02:00Z",
    }
    decoded = decode_event(msgspec.json.encode(old))
    assert isinstance(decoded, TrackingUpdated)
    assert (decoded.eta_earliest, decoded.eta_latest) == (None, None)
