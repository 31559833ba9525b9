"""The events of the platform: immutable, versioned, one class per fact.

Every event carries `event_id`, `event_type` (the tag, written on the wire),
`schema_version`, the id of its aggregate, a per-aggregate `sequence` starting at 1 and
two UTC timestamps: `occurred_at` (when it happened in the world, e.g. the GPS fix time)
and `recorded_at` (when the producer wrote it to the log).

The structs are msgspec `Struct`s with `frozen=True`: decoding them is several times
cheaper than pydantic (see BENCHMARKS.md, "codec") and they cannot be mutated after
the fact, which is what an event log needs.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, ClassVar, Literal

import msgspec

UtcDatetime = Annotated[datetime, msgspec.Meta(tz=True)]
"""A timezone-aware datetime; naive timestamps are refused at decode time."""

Latitude = Annotated[float, msgspec.Meta(ge=-90.0, le=90.0)]
Longitude = Annotated[float, msgspec.Meta(ge=-180.0, le=180.0)]
NonNegative = Annotated[float, msgspec.Meta(ge=0.0)]
Percent = Annotated[float, msgspec.Meta(ge=0.0, le=100.0)]
Sequence = Annotated[int, msgspec.Meta(ge=1)]
Identifier = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]

DeliveryStatus = Literal[
    "requested",
    "assigned",
    "en_route_to_pickup",
    "picked_up",
    "en_route_to_dropoff",
    "delivered",
    "cancelled",
]
"""The states of a delivery a customer can see."""

FINAL_STATUSES: frozenset[str] = frozenset({"delivered", "cancelled"})
"""After these, no event may follow and live tracking ends."""

DronePhase = Literal[
    "idle",
    "to_pickup",
    "at_pickup",
    "to_dropoff",
    "at_dropoff",
    "returning",
]
"""What a drone is doing; telemetry reports it so the ETA knows the phases left."""


def new_event_id() -> str:
    """A fresh, globally unique event id (UUID4, hex)."""
    return uuid.uuid4().hex


def utc_now() -> datetime:
    """Now, in UTC, timezone-aware: the only clock format allowed on the wire."""
    return datetime.now(UTC)


class GeoPoint(msgspec.Struct, frozen=True):
    """A WGS84 position in degrees."""

    lat: Latitude
    lon: Longitude


class Event(msgspec.Struct, frozen=True, kw_only=True, tag_field="event_type", tag=True):
    """Fields every event has. Subclasses add their aggregate id and payload."""

    SCHEMA_VERSION: ClassVar[int] = 1
    AGGREGATE: ClassVar[str] = ""

    event_id: Identifier
    schema_version: Annotated[int, msgspec.Meta(ge=1)] = 1
    sequence: Sequence
    occurred_at: UtcDatetime
    recorded_at: UtcDatetime

    @property
    def event_type(self) -> str:
        """The tag written on the wire: the class name."""
        return type(self).__name__

    @property
    def aggregate_id(self) -> str:
        """The id of the aggregate this event belongs to (also its Kafka key)."""
        value: str = getattr(self, self.AGGREGATE)
        return value


class DeliveryRequested(Event, frozen=True, kw_only=True, tag=True):
    """A business asked for a pickup at `pickup` to be flown to `dropoff`."""

    AGGREGATE: ClassVar[str] = "delivery_id"

    delivery_id: Identifier
    business_id: Identifier
    pickup: GeoPoint
    dropoff: GeoPoint


class DroneAssigned(Event, frozen=True, kw_only=True, tag=True):
    """Dispatch gave the delivery to a drone; the drone will fly it."""

    AGGREGATE: ClassVar[str] = "delivery_id"

    delivery_id: Identifier
    drone_id: Identifier
    pickup: GeoPoint
    dropoff: GeoPoint


class PickedUp(Event, frozen=True, kw_only=True, tag=True):
    """The drone has the parcel on board."""

    AGGREGATE: ClassVar[str] = "delivery_id"

    delivery_id: Identifier
    drone_id: Identifier


class Delivered(Event, frozen=True, kw_only=True, tag=True):
    """The parcel is at the drop-off: the delivery is complete."""

    AGGREGATE: ClassVar[str] = "delivery_id"

    delivery_id: Identifier
    drone_id: Identifier


class DeliveryCancelled(Event, frozen=True, kw_only=True, tag=True):
    """The delivery was cancelled before pickup; `drone_id` is the drone released, if any."""

    AGGREGATE: ClassVar[str] = "delivery_id"

    delivery_id: Identifier
    requested_by: Identifier
    reason: Annotated[str, msgspec.Meta(max_length=500)]
    drone_id: Identifier | None = None


class TelemetryReported(Event, frozen=True, kw_only=True, tag=True):
    """One position fix from a drone. `occurred_at` is the fix time.

    `delivery_id` is the mission the drone is flying, if any, so the stream processors
    can route the fix to the delivery's partition without a lookup.
    """

    AGGREGATE: ClassVar[str] = "drone_id"

    drone_id: Identifier
    delivery_id: Identifier | None = None
    lat: Latitude
    lon: Longitude
    altitude_m: float
    ground_speed_mps: NonNegative
    heading_deg: Annotated[float, msgspec.Meta(ge=0.0, lt=360.0)]
    battery_pct: Percent
    phase: DronePhase


class TrackingUpdated(Event, frozen=True, kw_only=True, tag=True):
    """What a customer sees: where the drone is, the state and the ETA.

    `source_event_id` and `occurred_at` are those of the telemetry fix it was computed
    from, so end-to-end latency can be measured from the fix to the customer. `drone_id`
    is None only for a delivery cancelled before any drone was assigned.
    """

    AGGREGATE: ClassVar[str] = "delivery_id"

    delivery_id: Identifier
    drone_id: Identifier | None
    source_event_id: Identifier
    lat: Latitude
    lon: Longitude
    altitude_m: float
    ground_speed_mps: NonNegative
    status: DeliveryStatus
    remaining_m: NonNegative
    eta: UtcDatetime | None


DeliveryEvent = DeliveryRequested | DroneAssigned | PickedUp | Delivered | DeliveryCancelled
"""Events of the delivery aggregate, on the deliveries topic keyed by delivery id."""

AnyEvent = (
    DeliveryRequested
    | DroneAssigned
    | PickedUp
    | Delivered
    | DeliveryCancelled
    | TelemetryReported
    | TrackingUpdated
)
"""Every event type the codec knows."""

EVENT_TYPES: dict[str, type[Event]] = {
    cls.__name__: cls
    for cls in (
        DeliveryRequested,
        DroneAssigned,
        PickedUp,
        Delivered,
        DeliveryCancelled,
        TelemetryReported,
        TrackingUpdated,
    )
}
