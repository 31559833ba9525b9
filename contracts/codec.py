"""The one wire codec: JSON via msgspec, with upcasting of old schema versions.

JSON keeps the log readable with any Kafka tool; msgspec decodes straight into the
frozen structs and validates the constraints in the same pass, which measured fastest
of the candidates (see BENCHMARKS.md, "codec").

Decoding is a fast path and a slow path. The fast path decodes the current schema of
every event type. If that fails, the slow path decodes the bytes generically, applies
the registered upcasters from the event's `schema_version` up to the current one, and
converts the result; an event that still does not fit raises `DecodeError`.

When a version is due: a change that every record already in the log still satisfies
(a new event type in the tagged union, a new value of a `Literal` such as the statuses
`rescheduled` and `failed` or the abort reasons, a new optional field) keeps the
version; old bytes take the fast path. Renaming, removing or retyping a field, or making
one required, bumps the class's `SCHEMA_VERSION` and registers an upcaster from the old
version. Readers older than a new event type dead-letter it (`unknown_event_type`), so
producers of a new type ship after its readers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import msgspec

from contracts.errors import DecodeError
from contracts.events import EVENT_TYPES, AnyEvent, Event

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]
"""Turns the payload of version N of an event type into version N + 1."""

UPCASTERS: dict[tuple[str, int], Upcaster] = {}
"""(event_type, from_version) -> upcaster. Register with `register_upcaster`."""

E = TypeVar("E", bound=Event)

_encoder = msgspec.json.Encoder()
_decoder: msgspec.json.Decoder[AnyEvent] = msgspec.json.Decoder(AnyEvent)
_generic_decoder: msgspec.json.Decoder[Any] = msgspec.json.Decoder()


def register_upcaster(event_type: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
    """Register a function that upgrades `event_type` from `from_version` by one version."""

    def decorate(upcaster: Upcaster) -> Upcaster:
        UPCASTERS[(event_type, from_version)] = upcaster
        return upcaster

    return decorate


def encode_event(event: Event) -> bytes:
    """Serialize an event to its wire form (UTF-8 JSON, with `event_type`)."""
    return _encoder.encode(event)


def decode_event(data: bytes) -> AnyEvent:
    """Decode bytes into the current version of their event, or raise `DecodeError`."""
    try:
        return _decoder.decode(data)
    except msgspec.DecodeError as fast_error:
        return _decode_with_upcasting(data, fast_error)
    except UnicodeDecodeError as error:  # msgspec's error for invalid UTF-8 inside a string
        raise DecodeError("undecodable", str(error)) from error


def decode_as(data: bytes, event_type: type[E]) -> E:
    """Decode bytes that must be one given event type (e.g. a topic with one type)."""
    event = decode_event(data)
    if not isinstance(event, event_type):
        raise DecodeError(
            "unexpected_type", f"expected {event_type.__name__}, got {event.event_type}"
        )
    return event


def _decode_with_upcasting(data: bytes, fast_error: msgspec.DecodeError) -> AnyEvent:
    try:
        payload = _generic_decoder.decode(data)
    except (msgspec.DecodeError, UnicodeDecodeError) as error:  # see decode_event
        raise DecodeError("undecodable", str(error)) from error
    if not isinstance(payload, dict):
        raise DecodeError("not_an_object", f"expected a JSON object, got {type(payload).__name__}")
    event_type = payload.get("event_type")
    cls = EVENT_TYPES.get(event_type) if isinstance(event_type, str) else None
    if cls is None:
        raise DecodeError("unknown_event_type", f"event_type={event_type!r}")
    version = payload.get("schema_version", 1)
    if not isinstance(version, int) or version > cls.SCHEMA_VERSION:
        raise DecodeError("unknown_schema_version", f"{cls.__name__} v{version!r}")
    if version == cls.SCHEMA_VERSION:
        raise DecodeError("invalid_event", str(fast_error))
    while version < cls.SCHEMA_VERSION:
        upcaster = UPCASTERS.get((cls.__name__, version))
        if upcaster is None:
            raise DecodeError("no_upcaster", f"{cls.__name__} v{version} -> v{version + 1}")
        payload = upcaster(payload)
        version += 1
        payload["schema_version"] = version
    try:
        return msgspec.convert(payload, AnyEvent)  # type: ignore[no-any-return]
    except msgspec.ValidationError as error:
        raise DecodeError("invalid_event", str(error)) from error
