"""Decode and encode cost per event of three candidate wire codecs.

Why this exists: `contracts.codec` decodes every event with msgspec straight into frozen
`Struct`s, and `contracts/events.py` justifies that choice by its cost. The hot path is
`TelemetryReported` (about 1 Hz per drone, thousands of drones), so decode + validate
is paid on every fix by every consumer. This script measures, on the same JSON bytes
(written by `contracts.encode_event`), the cost per event of:

(a) msgspec: `contracts.codec.decode_event`, typed decode into the tagged union;
(b) orjson: `orjson.loads` then frozen dataclasses, validated by hand in Python
    (types, ranges, lengths, literals, `datetime.fromisoformat` and a tz check);
(c) pydantic v2: frozen models, a discriminated union on `event_type` with the same
    constraints, via `TypeAdapter.validate_json`.

and the cost of encoding the decoded event back to JSON bytes with each codec. The
pydantic and dataclass equivalents live here only for the comparison.

Run from the repository root: `python benchmarks/codec_bench.py`.
"""

from __future__ import annotations

import platform
import sys
import timeit
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, TypeAlias, get_args

import msgspec
import orjson
import pydantic
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from contracts.codec import decode_event, encode_event
from contracts.errors import ContractError
from contracts.events import (
    DeliveryRequested,
    DronePhase,
    Event,
    GeoPoint,
    TelemetryReported,
    TrackingStatus,
)

REPEATS = 7
"""timeit repeats per measurement; the best (minimum) is reported."""

TARGET_SECONDS = 0.2
"""Each repeat runs enough iterations to last at least this long."""

DELIVERY_STATUSES = frozenset(get_args(TrackingStatus))
"""The statuses a `TrackingUpdated` carries: the contracts' own, for the hand validation."""
DRONE_PHASES = frozenset(get_args(DronePhase))


# --------------------------------------------------------------------------------------
# (b) orjson + frozen dataclasses, validated by hand
# --------------------------------------------------------------------------------------


class InvalidEventError(ValueError):
    """The hand-written validation refused the payload."""


def _identifier(value: object) -> str:
    if type(value) is not str or not 1 <= len(value) <= 64:
        raise InvalidEventError(f"expected an identifier (str, 1..64), got {value!r}")
    return value


def _optional_identifier(value: object) -> str | None:
    return None if value is None else _identifier(value)


def _int_ge1(value: object) -> int:
    if type(value) is not int or value < 1:
        raise InvalidEventError(f"expected an int >= 1, got {value!r}")
    return value


def _float(value: object) -> float:
    # Like msgspec: a JSON int is accepted for a float field, a bool is not.
    if type(value) is float:
        return value
    if type(value) is int:
        return float(value)
    raise InvalidEventError(f"expected a number, got {value!r}")


def _between(value: object, low: float, high: float) -> float:
    number = _float(value)
    if not low <= number <= high:
        raise InvalidEventError(f"expected {low} <= x <= {high}, got {number!r}")
    return number


def _non_negative(value: object) -> float:
    number = _float(value)
    if number < 0.0:
        raise InvalidEventError(f"expected x >= 0, got {number!r}")
    return number


def _heading(value: object) -> float:
    number = _float(value)
    if not 0.0 <= number < 360.0:
        raise InvalidEventError(f"expected 0 <= x < 360, got {number!r}")
    return number


def _utc_datetime(value: object) -> datetime:
    if type(value) is not str:
        raise InvalidEventError(f"expected an ISO 8601 string, got {value!r}")
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise InvalidEventError(f"expected a timezone-aware datetime, got {value!r}")
    return parsed


def _optional_utc_datetime(value: object) -> datetime | None:
    return None if value is None else _utc_datetime(value)


def _literal(value: object, allowed: frozenset[str]) -> str:
    if type(value) is not str or value not in allowed:
        raise InvalidEventError(f"expected one of {sorted(allowed)}, got {value!r}")
    return value


@dataclass(frozen=True, slots=True)
class DcGeoPoint:
    lat: float
    lon: float


def _geo_point(value: object) -> DcGeoPoint:
    if type(value) is not dict:
        raise InvalidEventError(f"expected an object, got {value!r}")
    return DcGeoPoint(
        lat=_between(value["lat"], -90.0, 90.0), lon=_between(value["lon"], -180.0, 180.0)
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class DcEvent:
    event_type: str = field(init=False, default="")
    event_id: str
    schema_version: int = 1
    sequence: int
    occurred_at: datetime
    recorded_at: datetime


def _common(payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "event_id": _identifier(payload["event_id"]),
        "schema_version": _int_ge1(payload.get("schema_version", 1)),
        "sequence": _int_ge1(payload["sequence"]),
        "occurred_at": _utc_datetime(payload["occurred_at"]),
        "recorded_at": _utc_datetime(payload["recorded_at"]),
    }


@dataclass(frozen=True, slots=True, kw_only=True)
class DcDeliveryRequested(DcEvent):
    event_type: str = field(init=False, default="DeliveryRequested")
    delivery_id: str
    business_id: str
    pickup: DcGeoPoint
    dropoff: DcGeoPoint

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> DcDeliveryRequested:
        return cls(
            **_common(payload),
            delivery_id=_identifier(payload["delivery_id"]),
            business_id=_identifier(payload["business_id"]),
            pickup=_geo_point(payload["pickup"]),
            dropoff=_geo_point(payload["dropoff"]),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class DcDroneAssigned(DcEvent):
    event_type: str = field(init=False, default="DroneAssigned")
    delivery_id: str
    drone_id: str
    pickup: DcGeoPoint
    dropoff: DcGeoPoint

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> DcDroneAssigned:
        return cls(
            **_common(payload),
            delivery_id=_identifier(payload["delivery_id"]),
            drone_id=_identifier(payload["drone_id"]),
            pickup=_geo_point(payload["pickup"]),
            dropoff=_geo_point(payload["dropoff"]),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class DcPickedUp(DcEvent):
    event_type: str = field(init=False, default="PickedUp")
    delivery_id: str
    drone_id: str

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> DcPickedUp:
        return cls(
            **_common(payload),
            delivery_id=_identifier(payload["delivery_id"]),
            drone_id=_identifier(payload["drone_id"]),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class DcDelivered(DcEvent):
    event_type: str = field(init=False, default="Delivered")
    delivery_id: str
    drone_id: str

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> DcDelivered:
        return cls(
            **_common(payload),
            delivery_id=_identifier(payload["delivery_id"]),
            drone_id=_identifier(payload["drone_id"]),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class DcTelemetryReported(DcEvent):
    event_type: str = field(init=False, default="TelemetryReported")
    drone_id: str
    delivery_id: str | None = None
    lat: float
    lon: float
    altitude_m: float
    ground_speed_mps: float
    heading_deg: float
    battery_pct: float
    phase: str

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> DcTelemetryReported:
        return cls(
            **_common(payload),
            drone_id=_identifier(payload["drone_id"]),
            delivery_id=_optional_identifier(payload.get("delivery_id")),
            lat=_between(payload["lat"], -90.0, 90.0),
            lon=_between(payload["lon"], -180.0, 180.0),
            altitude_m=_float(payload["altitude_m"]),
            ground_speed_mps=_non_negative(payload["ground_speed_mps"]),
            heading_deg=_heading(payload["heading_deg"]),
            battery_pct=_between(payload["battery_pct"], 0.0, 100.0),
            phase=_literal(payload["phase"], DRONE_PHASES),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class DcTrackingUpdated(DcEvent):
    event_type: str = field(init=False, default="TrackingUpdated")
    delivery_id: str
    drone_id: str
    source_event_id: str
    lat: float
    lon: float
    altitude_m: float
    ground_speed_mps: float
    status: str
    remaining_m: float
    eta: datetime | None

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> DcTrackingUpdated:
        return cls(
            **_common(payload),
            delivery_id=_identifier(payload["delivery_id"]),
            drone_id=_identifier(payload["drone_id"]),
            source_event_id=_identifier(payload["source_event_id"]),
            lat=_between(payload["lat"], -90.0, 90.0),
            lon=_between(payload["lon"], -180.0, 180.0),
            altitude_m=_float(payload["altitude_m"]),
            ground_speed_mps=_non_negative(payload["ground_speed_mps"]),
            status=_literal(payload["status"], DELIVERY_STATUSES),
            remaining_m=_non_negative(payload["remaining_m"]),
            eta=_optional_utc_datetime(payload["eta"]),
        )


DC_PARSERS: dict[str, Callable[[dict[str, Any]], DcEvent]] = {
    "DeliveryRequested": DcDeliveryRequested.from_dict,
    "DroneAssigned": DcDroneAssigned.from_dict,
    "PickedUp": DcPickedUp.from_dict,
    "Delivered": DcDelivered.from_dict,
    "TelemetryReported": DcTelemetryReported.from_dict,
    "TrackingUpdated": DcTrackingUpdated.from_dict,
}


def dc_decode(data: bytes) -> DcEvent:
    """orjson + hand validation: the tagged-union decode, done in Python."""
    payload = orjson.loads(data)
    if type(payload) is not dict:
        raise InvalidEventError(f"expected a JSON object, got {type(payload).__name__}")
    try:
        parser = DC_PARSERS[payload["event_type"]]
        return parser(payload)
    except (KeyError, TypeError) as error:
        raise InvalidEventError(f"invalid event: {error!r}") from error


def dc_encode(event: DcEvent) -> bytes:
    """orjson serializes dataclasses (and datetimes) natively."""
    return orjson.dumps(event)


# --------------------------------------------------------------------------------------
# (c) pydantic v2: frozen models, discriminated union on event_type
# --------------------------------------------------------------------------------------

PIdentifier = Annotated[str, Field(min_length=1, max_length=64)]
PLatitude = Annotated[float, Field(ge=-90.0, le=90.0)]
PLongitude = Annotated[float, Field(ge=-180.0, le=180.0)]
PNonNegative = Annotated[float, Field(ge=0.0)]
PPercent = Annotated[float, Field(ge=0.0, le=100.0)]
PSequence = Annotated[int, Field(ge=1)]
PDeliveryStatus: TypeAlias = TrackingStatus  # the contracts' Literals serve pydantic as they are
PDronePhase: TypeAlias = DronePhase


class PGeoPoint(BaseModel):
    model_config = ConfigDict(frozen=True)

    lat: PLatitude
    lon: PLongitude


class PEvent(BaseModel):
    model_config = ConfigDict(frozen=True)

    event_id: PIdentifier
    schema_version: PSequence = 1
    sequence: PSequence
    occurred_at: AwareDatetime
    recorded_at: AwareDatetime


class PDeliveryRequested(PEvent):
    event_type: Literal["DeliveryRequested"] = "DeliveryRequested"
    delivery_id: PIdentifier
    business_id: PIdentifier
    pickup: PGeoPoint
    dropoff: PGeoPoint


class PDroneAssigned(PEvent):
    event_type: Literal["DroneAssigned"] = "DroneAssigned"
    delivery_id: PIdentifier
    drone_id: PIdentifier
    pickup: PGeoPoint
    dropoff: PGeoPoint


class PPickedUp(PEvent):
    event_type: Literal["PickedUp"] = "PickedUp"
    delivery_id: PIdentifier
    drone_id: PIdentifier


class PDelivered(PEvent):
    event_type: Literal["Delivered"] = "Delivered"
    delivery_id: PIdentifier
    drone_id: PIdentifier


class PTelemetryReported(PEvent):
    event_type: Literal["TelemetryReported"] = "TelemetryReported"
    drone_id: PIdentifier
    delivery_id: PIdentifier | None = None
    lat: PLatitude
    lon: PLongitude
    altitude_m: float
    ground_speed_mps: PNonNegative
    heading_deg: Annotated[float, Field(ge=0.0, lt=360.0)]
    battery_pct: PPercent
    phase: PDronePhase


class PTrackingUpdated(PEvent):
    event_type: Literal["TrackingUpdated"] = "TrackingUpdated"
    delivery_id: PIdentifier
    drone_id: PIdentifier
    source_event_id: PIdentifier
    lat: PLatitude
    lon: PLongitude
    altitude_m: float
    ground_speed_mps: PNonNegative
    status: PDeliveryStatus
    remaining_m: PNonNegative
    eta: AwareDatetime | None


PAnyEvent: TypeAlias = Annotated[
    PDeliveryRequested
    | PDroneAssigned
    | PPickedUp
    | PDelivered
    | PTelemetryReported
    | PTrackingUpdated,
    Field(discriminator="event_type"),
]
P_ADAPTER: TypeAdapter[PAnyEvent] = TypeAdapter(PAnyEvent)


def pydantic_decode(data: bytes) -> PEvent:
    """pydantic v2: validate JSON bytes into the discriminated union."""
    event: PEvent = P_ADAPTER.validate_json(data)
    return event


def pydantic_encode(event: PEvent) -> bytes:
    """pydantic v2: the model's own serializer, straight to bytes."""
    return event.__pydantic_serializer__.to_json(event)


# --------------------------------------------------------------------------------------
# Sample events and the measurement
# --------------------------------------------------------------------------------------

FIX_TIME = datetime(2025, 6, 14, 9, 31, 27, 412_318, tzinfo=UTC)


def sample_telemetry() -> TelemetryReported:
    """A realistic fix from a drone flying a delivery (the hot path)."""
    return TelemetryReported(
        event_id="5f0c6a3e9b7d4c21a8e4f1d2c3b4a596",
        sequence=48_213,
        occurred_at=FIX_TIME,
        recorded_at=FIX_TIME + timedelta(milliseconds=37, microseconds=512),
        drone_id="drone-0421",
        delivery_id="dlv-7c1e9a40b2f34d6e",
        lat=48.858_372_4,
        lon=2.294_481_7,
        altitude_m=87.35,
        ground_speed_mps=14.82,
        heading_deg=271.43,
        battery_pct=63.7,
        phase="to_dropoff",
    )


def sample_delivery_requested() -> DeliveryRequested:
    """A delivery request from a business (cold path, for comparison)."""
    return DeliveryRequested(
        event_id="a91b2c3d4e5f40718293a4b5c6d7e8f9",
        sequence=1,
        occurred_at=FIX_TIME,
        recorded_at=FIX_TIME + timedelta(milliseconds=4, microseconds=87),
        delivery_id="dlv-7c1e9a40b2f34d6e",
        business_id="biz-boulangerie-0193",
        pickup=GeoPoint(lat=48.853_412_9, lon=2.348_803_1),
        dropoff=GeoPoint(lat=48.858_372_4, lon=2.294_481_7),
    )


def ns_per_call(func: Callable[[Any], object], arg: object) -> float:
    """Best of REPEATS timeit runs, in nanoseconds per call."""
    timer = timeit.Timer("func(arg)", globals={"func": func, "arg": arg})
    number, elapsed = timer.autorange()
    number = max(number, int(number * TARGET_SECONDS / max(elapsed, 1e-9)))
    best = min(timer.repeat(repeat=REPEATS, number=number))
    return best / number * 1e9


def self_check(data: bytes) -> None:
    """Make sure the three codecs agree, round-trip and refuse the same bad inputs."""
    expected = msgspec.to_builtins(decode_event(data))
    for encoded in (dc_encode(dc_decode(data)), pydantic_encode(pydantic_decode(data))):
        round_tripped = msgspec.to_builtins(decode_event(encoded))
        assert round_tripped == expected, (round_tripped, expected)
    assert dc_decode(dc_encode(dc_decode(data))) == dc_decode(data)
    assert pydantic_decode(pydantic_encode(pydantic_decode(data))) == pydantic_decode(data)

    payload = orjson.loads(data)
    bad_inputs: list[dict[str, Any]] = [
        {**payload, "occurred_at": "2025-06-14T09:31:27.412318"},  # naive datetime
        {**payload, "sequence": 0},
        {**payload, "event_id": ""},
        {**payload, "event_type": "NoSuchEvent"},
    ]
    if "lat" in payload:
        bad_inputs += [
            {**payload, "lat": 90.5},
            {**payload, "heading_deg": 360.0},
            {**payload, "battery_pct": -1.0},
            {**payload, "phase": "hovering"},
        ]
    else:
        bad_inputs += [{**payload, "pickup": {"lat": 12.0, "lon": 180.5}}]
    for bad in bad_inputs:
        raw = orjson.dumps(bad)
        for name, decode in (
            ("msgspec", decode_event),
            ("orjson+dataclasses", dc_decode),
            ("pydantic", pydantic_decode),
        ):
            try:
                decode(raw)
            except (ContractError, ValueError):
                pass
            else:
                raise AssertionError(f"{name} accepted an invalid event: {bad}")


def cpu_model() -> str:
    """The CPU model name, from /proc/cpuinfo (Linux)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main() -> None:
    """Measure, then print the environment and a Markdown table."""
    samples: list[Event] = [sample_telemetry(), sample_delivery_requested()]
    rows: list[str] = []
    for event in samples:
        data = encode_event(event)
        self_check(data)
        msgspec_event = decode_event(data)
        dc_event = dc_decode(data)
        p_event = pydantic_decode(data)
        results = {
            "msgspec (`decode_event`)": (
                ns_per_call(decode_event, data),
                ns_per_call(encode_event, msgspec_event),
            ),
            "orjson + frozen dataclasses, hand validation": (
                ns_per_call(dc_decode, data),
                ns_per_call(dc_encode, dc_event),
            ),
            "pydantic v2 (`TypeAdapter.validate_json`)": (
                ns_per_call(pydantic_decode, data),
                ns_per_call(pydantic_encode, p_event),
            ),
        }
        base_decode, base_encode = results["msgspec (`decode_event`)"]
        for codec, (decode_ns, encode_ns) in results.items():
            rows.append(
                f"| {type(event).__name__} ({len(data)} B) | {codec} "
                f"| {decode_ns:,.0f} | {decode_ns / base_decode:.2f}x "
                f"| {encode_ns:,.0f} | {encode_ns / base_encode:.2f}x |"
            )

    print(f"Python {platform.python_implementation()} {platform.python_version()}")
    print(f"CPU: {cpu_model()}")
    print(
        f"msgspec {msgspec.__version__}, orjson {orjson.__version__}, pydantic {pydantic.VERSION}"
    )
    print(f"Best of {REPEATS} timeit repeats, each of at least {TARGET_SECONDS} s.")
    print()
    print(
        "| Event (JSON size) | Codec | decode + validate (ns/event) | vs msgspec "
        "| encode (ns/event) | vs msgspec |"
    )
    print("|---|---|---:|---:|---:|---:|")
    for row in rows:
        print(row)


if __name__ == "__main__":
    main()
