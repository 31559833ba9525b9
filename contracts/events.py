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
from typing import Annotated, ClassVar, Literal, assert_never, get_args

import msgspec

UtcDatetime = Annotated[datetime, msgspec.Meta(tz=True)]
"""A timezone-aware datetime; naive timestamps are refused at decode time."""

Latitude = Annotated[float, msgspec.Meta(ge=-90.0, le=90.0)]
Longitude = Annotated[float, msgspec.Meta(ge=-180.0, le=180.0)]
NonNegative = Annotated[float, msgspec.Meta(ge=0.0)]
Percent = Annotated[float, msgspec.Meta(ge=0.0, le=100.0)]
Sequence = Annotated[int, msgspec.Meta(ge=1)]
Identifier = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
RequestDigest = Annotated[str, msgspec.Meta(pattern="^[0-9a-f]{64}$")]
"""The SHA-256 (hex) of a client's request made with an `Idempotency-Key`: what the
aggregate compares when the same key (the same delivery or command id) comes again."""

FinalStatus = Literal["delivered", "cancelled", "failed"]
"""The ends of a delivery: after these no event may follow and live tracking ends.

One name for the values the aggregate's states and the customer's share at the end, so
the two vocabularies below cannot disagree on when a delivery is over.
"""

DeliveryStatus = Literal["requested", "assigned", "picked_up", "rescheduled", FinalStatus]
"""The states of the delivery aggregate (what the read model's views return).

`rescheduled`: its drone refused or aborted before the pickup; it waits for another.
`failed`: its drone aborted with the parcel on board (final; the reason says why).
"""

TrackingStatus = Literal[
    "requested", "en_route_to_pickup", "en_route_to_dropoff", "rescheduled", FinalStatus
]
"""What a customer is shown (the status a `TrackingUpdated` carries).

It differs from the aggregate's state while the drone flies: a customer is told the
drone is on its way, not how the platform books it. `shown_status` is the one mapping.
"""

FINAL_STATUSES: frozenset[FinalStatus] = frozenset(get_args(FinalStatus))
"""After these, no event may follow and live tracking ends (in both vocabularies)."""

CANCELLABLE_STATUSES: tuple[DeliveryStatus, ...] = ("requested", "assigned", "rescheduled")
"""A delivery may be cancelled until its parcel is picked up (the aggregate decides; the
API uses the same list to answer 409 early)."""


def shown_status(status: DeliveryStatus) -> TrackingStatus:
    """What a customer is shown for a delivery in aggregate state `status`.

    The match is exhaustive (mypy checks `assert_never`), so a new aggregate state
    cannot be added without deciding what the customer sees.
    """
    match status:
        case "assigned":
            return "en_route_to_pickup"
        case "picked_up":
            return "en_route_to_dropoff"
        case "requested" | "rescheduled" | "delivered" | "cancelled" | "failed":
            return status
        case _:
            assert_never(status)


AbortReason = Literal["battery", "no_fly_zone", "fault"]
"""Why a drone abandoned a mission in flight: its battery fell under the reserve, a
no-fly zone closed its way, or an injected fault (the simulator's chaos for operators)."""

RefusalReason = Literal["busy", "unreachable", "insufficient_battery"]
"""Why a drone refused an assignment before taking off: already on a mission, a point it
may not reach (inside a no-fly zone), or a mission it cannot finish with its reserve."""

WithdrawReason = Literal["drone_lost", "not_taken_up"]
"""Why dispatch took a delivery back from its drone (`WithdrawAssignment`): the drone
stopped reporting, or forgot its mission (a restarted simulator), or it never took the
assignment up within the setting (see `streams.processors.dispatcher`)."""

GiveUpReason = Literal[
    "battery",
    "no_fly_zone",
    "fault",
    "busy",
    "unreachable",
    "insufficient_battery",
    "drone_lost",
    "not_taken_up",
]
"""Why a drone gave a delivery up (or dispatch took it back): an abort, a refusal or a
withdrawal reason."""

FailureReason = Literal[AbortReason, "drone_lost", "no_drone_available"]
"""Why a delivery failed: its drone aborted with the parcel on board (an abort reason),
was lost with it (`drone_lost`), or no drone could take it within the promise given to
the business (`no_drone_available`)."""

MilestoneKind = Literal["battery_low", "aborted", "returned", "charged"]
"""Fleet-level milestones of one drone (see `DroneMilestone`)."""

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
    request_digest: RequestDigest | None = None
    """Set when the business sent an `Idempotency-Key` (`RequestDelivery`): the delivery
    id is derived from the business and the key, and a second request with the same key
    is compared against this digest by the aggregate."""
    quoted_at: UtcDatetime | None = None
    """When the API quoted the delivery (issue 19): the promise is history, so the read
    models can hold it against what happened (`delivery_quote_error_view`). None without
    a quote (no airspace or read model at request time) and in records older than it."""
    quoted_pickup_at: UtcDatetime | None = None
    """When the drone should land at the pickup, as quoted with the 202."""
    quoted_dropoff_at: UtcDatetime | None = None
    """When the delivery should be complete (landed at the drop-off, parcel left)."""


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
    request_digest: RequestDigest | None = None
    """The cancelling request's digest, when it came with an `Idempotency-Key`."""


class DeliveryRescheduled(Event, frozen=True, kw_only=True, tag=True):
    """The drone gave the delivery up before the pickup: back to the dispatch queue.

    Its drone refused the assignment or aborted on the way to the pickup; the customer
    is told (tracking status `rescheduled`) and dispatch proposes another drone.

    It carries what dispatch needs to queue it again without a lookup (like
    `DroneAssigned` carries the points for the drone): the points, the original request
    time (the delivery keeps its place in the queue) and every drone that has given
    this delivery up so far, `drone_id` included, which dispatch will not propose again.
    """

    AGGREGATE: ClassVar[str] = "delivery_id"

    delivery_id: Identifier
    drone_id: Identifier
    reason: GiveUpReason
    pickup: GeoPoint
    dropoff: GeoPoint
    requested_at: UtcDatetime
    declined_by: tuple[Identifier, ...]


class DeliveryFailed(Event, frozen=True, kw_only=True, tag=True):
    """The delivery ends without arriving, with the reason.

    Its drone aborted with the parcel on board (it flies it back to a depot, see
    `simulator.flight.engine`) or was lost with it (`drone_lost`); or no drone could take
    it within the promise (`no_drone_available`, `drone_id` None). Flying the parcel out
    again is a new delivery request, not a continuation of this one.
    """

    AGGREGATE: ClassVar[str] = "delivery_id"

    delivery_id: Identifier
    drone_id: Identifier | None
    reason: FailureReason


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
    is None while no drone has the delivery: rescheduled, or ended (cancelled, or failed
    with `no_drone_available`) before a drone was assigned.
    """

    AGGREGATE: ClassVar[str] = "delivery_id"

    delivery_id: Identifier
    drone_id: Identifier | None
    source_event_id: Identifier
    lat: Latitude
    lon: Longitude
    altitude_m: float
    ground_speed_mps: NonNegative
    status: TrackingStatus
    remaining_m: NonNegative
    eta: UtcDatetime | None
    eta_earliest: UtcDatetime | None = None
    """The window's start (issue 19): the earliest arrival the platform promises with this
    ETA, learned by the stream worker from its own past errors at this lead
    (`streams.domain.eta_window`). In the log so that every reader (each API replica,
    the read models) shows the same window and history says what a customer was told.
    None without an ETA, and in records older than the window."""
    eta_latest: UtcDatetime | None = None
    """The window's end: the latest arrival promised with this ETA (None as above)."""


_PRINTABLE = r"^[^\x00-\x1f\x7f]+$"
"""No control characters: PostgreSQL's text cannot hold NUL, and names get displayed."""


class BusinessRegistered(Event, frozen=True, kw_only=True, tag=True):
    """A business signed up and was issued an API key (on the businesses topic).

    Only the key's public id and the SHA-256 of the whole key are recorded, never the
    key: it is shown to the business once. The key carries 256 random bits, so the
    unsalted hash cannot be brute-forced, and the log (kept forever) can be replayed
    into the read model without holding a credential.
    """

    AGGREGATE: ClassVar[str] = "business_id"

    business_id: Identifier
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=_PRINTABLE)]
    contact: Annotated[str, msgspec.Meta(min_length=1, max_length=320, pattern=_PRINTABLE)]
    key_id: Identifier
    key_sha256: Annotated[str, msgspec.Meta(pattern="^[0-9a-f]{64}$")]


class BusinessKeyRotated(Event, frozen=True, kw_only=True, tag=True):
    """A business was issued a new API key; the key it rotates works until a grace ends.

    Like the registration, only the new key's id and hash are recorded. The previous key
    (`previous_key_id`) stays valid until `previous_valid_until`, so the business can roll
    the new one out; then it is refused. Kept forever on the businesses topic, so every
    API process, and every rebuild, folds the same keys.
    """

    AGGREGATE: ClassVar[str] = "business_id"

    business_id: Identifier
    key_id: Identifier
    key_sha256: Annotated[str, msgspec.Meta(pattern="^[0-9a-f]{64}$")]
    previous_key_id: Identifier
    previous_valid_until: UtcDatetime


class BusinessKeyRevoked(Event, frozen=True, kw_only=True, tag=True):
    """An operator revoked one of a business's API keys: refused from now on, for good."""

    AGGREGATE: ClassVar[str] = "business_id"

    business_id: Identifier
    key_id: Identifier
    reason: Annotated[str, msgspec.Meta(max_length=500)] = ""


WebhookTopic = Literal[
    "delivery.requested",
    "delivery.assigned",
    "delivery.picked_up",
    "delivery.delivered",
    "delivery.cancelled",
    "delivery.rescheduled",
    "delivery.failed",
    "delivery.eta_changed",
]
"""What a webhook endpoint may ask for: one name per delivery event, and the material ETA
changes (`contracts.webhooks` maps the events to these names)."""

WebhookUrl = Annotated[str, msgspec.Meta(min_length=8, max_length=2048, pattern=_PRINTABLE)]


class WebhookEndpointRegistered(Event, frozen=True, kw_only=True, tag=True):
    """A business registered a webhook endpoint (on the businesses topic, kept forever).

    No secret is recorded: the endpoint's signing secret is derived from the platform's
    webhook signing key, the endpoint id and `secret_version` (`contracts.webhooks`), so
    the log, replayed by anyone, holds no credential, and the notifier can sign without a
    secret store of its own.
    """

    AGGREGATE: ClassVar[str] = "endpoint_id"

    business_id: Identifier
    endpoint_id: Identifier
    url: WebhookUrl
    topics: Annotated[tuple[WebhookTopic, ...], msgspec.Meta(min_length=1, max_length=8)]
    description: Annotated[str, msgspec.Meta(max_length=200)] = ""
    secret_version: Annotated[int, msgspec.Meta(ge=1)] = 1


class WebhookEndpointUpdated(Event, frozen=True, kw_only=True, tag=True):
    """A business changed an endpoint: its whole new state (URL, topics, enabled or not)."""

    AGGREGATE: ClassVar[str] = "endpoint_id"

    business_id: Identifier
    endpoint_id: Identifier
    url: WebhookUrl
    topics: Annotated[tuple[WebhookTopic, ...], msgspec.Meta(min_length=1, max_length=8)]
    description: Annotated[str, msgspec.Meta(max_length=200)] = ""
    enabled: bool = True
    secret_version: Annotated[int, msgspec.Meta(ge=1)] = 1
    previous_secret_valid_until: UtcDatetime | None = None
    """Set by a secret rotation (`secret_version` one up): the previous version's secret
    keeps signing alongside the new one until then, so the business can switch its
    receiver over without refusing a message. None: no grace (or no rotation)."""


class WebhookEndpointDeleted(Event, frozen=True, kw_only=True, tag=True):
    """A business deleted an endpoint.

    Nothing more is sent to it; the notifier drops its waiting messages (the business asked).
    """

    AGGREGATE: ClassVar[str] = "endpoint_id"

    business_id: Identifier
    endpoint_id: Identifier


class WebhookRedeliveryRequested(Event, frozen=True, kw_only=True, tag=True):
    """A business asked the notifier to send dead-lettered messages of an endpoint again.

    `message_ids` empty: every message dead-lettered before `recorded_at`. The notifier
    takes back only messages already dead at `recorded_at`, so replaying the log applies
    the request again without resending what died later.
    """

    AGGREGATE: ClassVar[str] = "endpoint_id"

    business_id: Identifier
    endpoint_id: Identifier
    message_ids: Annotated[tuple[Identifier, ...], msgspec.Meta(max_length=1000)] = ()


class DroneMilestone(Event, frozen=True, kw_only=True, tag=True):
    """A moment in a drone's day that dispatch must not learn late, with where and how full.

    On the telemetry topic, keyed by drone id, so it stays in order with the drone's
    fixes; its `sequence` counts the drone's milestones (fixes have their own). Kinds:
    `battery_low` (crossed the low-battery mark), `aborted` (gave its mission up in
    flight; `delivery_id` and `reason` say which and why), `returned` (landed at a
    depot), `charged` (full again on the charger). Telemetry reaches dispatch only on a
    change of availability or every refresh period; a milestone reaches it at once.
    """

    AGGREGATE: ClassVar[str] = "drone_id"

    drone_id: Identifier
    kind: MilestoneKind
    lat: Latitude
    lon: Longitude
    battery_pct: Percent
    delivery_id: Identifier | None = None
    reason: AbortReason | None = None


class LivenessTick(Event, frozen=True, kw_only=True, tag=True):
    """The dispatcher's clock: a worker's wall time, written into the dispatch topic.

    Dispatch decides on time (a silent drone, an assignment not taken up, a promise
    expired) only when it reads a tick, with the tick's `occurred_at` as "now", so a
    rebuild from offset 0 makes the same decisions (see `streams.processors.dispatcher`).
    """

    AGGREGATE: ClassVar[str] = "worker"

    worker: Identifier


class DroneHeard(msgspec.Struct, frozen=True, kw_only=True, array_like=True):
    """One drone as dispatch needs it, from a fix the gate accepted.

    Encoded as an array (field order is the schema): a `FleetHeard` lists hundreds, and
    the names would double its bytes.
    """

    drone_id: Identifier
    occurred_at: UtcDatetime
    """The fix's time: dispatch never lets an older one override a newer."""
    lat: Latitude
    lon: Longitude
    battery_pct: Percent
    phase: DronePhase
    delivery_id: Identifier | None = None


FLEET_HEARD_MAX = 2_000
"""The most drones one `FleetHeard` names: its bytes stay well under the broker's 1 MB."""


class FleetHeard(Event, frozen=True, kw_only=True, tag=True):
    """The drones one batch of the telemetry gate tells dispatch of, in fix order.

    On the dispatch topic, one record per gate batch rather than a fix per drone: the
    gate tells dispatch of every drone at least every refresh period (liveness), about
    2,000 drones a second at 10,000 drones, and as one Faust record per drone that was
    18 % of the stream worker's profile, stalling the gate in the same event loop
    (BENCHMARKS.md, "After issues 17 and 18"). `gate` names the worker whose gate wrote
    it; `sequence` counts that gate's records since it started.
    """

    AGGREGATE: ClassVar[str] = "gate"

    gate: Identifier
    drones: Annotated[
        tuple[DroneHeard, ...], msgspec.Meta(min_length=1, max_length=FLEET_HEARD_MAX)
    ]
    """At most `FLEET_HEARD_MAX` (about 200 KB): a busy batch writes several records."""


class DroneLost(Event, frozen=True, kw_only=True, tag=True):
    """Dispatch lost a drone: silent since `last_seen_at`, or it forgot its mission.

    On the dispatch topic, keyed like its other records. `delivery_id` is the delivery
    taken back from it, if any. The drone is not proposed again until it reports.
    """

    AGGREGATE: ClassVar[str] = "drone_id"

    drone_id: Identifier
    last_seen_at: UtcDatetime
    delivery_id: Identifier | None = None


class DroneFound(Event, frozen=True, kw_only=True, tag=True):
    """A lost drone reported again (at `occurred_at`): dispatch may propose it again."""

    AGGREGATE: ClassVar[str] = "drone_id"

    drone_id: Identifier


class NoFlyZone(msgspec.Struct, frozen=True):
    """A named area no drone may enter (around an airport, say): a polygon of WGS84 points.

    The ring is open (the last point is not repeated) and simple, with straight edges in
    (lat, lon): every reader's point-in-zone answer is then the same, whether asked in
    degrees (`contracts.airspace`) or in the simulator's local frame, a linear map of them.
    """

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    boundary: Annotated[tuple[GeoPoint, ...], msgspec.Meta(min_length=3, max_length=4096)]


class Depot(msgspec.Struct, frozen=True):
    """Where drones take off, land and charge."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    position: GeoPoint


class AirspacePublished(Event, frozen=True, kw_only=True, tag=True):
    """Where the fleet may fly and whom it serves: the airspace every service reads.

    On the compacted `airspace` topic, keyed by `airspace_id`: its last record is the
    airspace in force (`sequence` counts its versions). Published from the simulator's
    scenario when the platform starts (docs/decisions/0002-airspace.md); the geometry
    that answers questions about it is `contracts.airspace`.
    """

    AGGREGATE: ClassVar[str] = "airspace_id"

    airspace_id: Identifier
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    zones: Annotated[tuple[NoFlyZone, ...], msgspec.Meta(max_length=1000)]
    depots: Annotated[tuple[Depot, ...], msgspec.Meta(min_length=1, max_length=1000)]
    service_area: Annotated[tuple[GeoPoint, ...], msgspec.Meta(min_length=3, max_length=4096)]
    """The polygon the platform serves: pickups and drop-offs lie inside it."""
    range_m: Annotated[float, msgspec.Meta(gt=0.0)]
    """The longest mission (nearest depot, pickup, drop-off, nearest depot) a fully
    charged drone flies keeping its reserve: a longer one is refused at once."""


DeliveryEvent = (
    DeliveryRequested
    | DroneAssigned
    | PickedUp
    | Delivered
    | DeliveryCancelled
    | DeliveryRescheduled
    | DeliveryFailed
)
"""Events of the delivery aggregate, on the deliveries topic keyed by delivery id."""

DELIVERY_EVENT_TYPES: tuple[type[DeliveryEvent], ...] = get_args(DeliveryEvent)
"""The classes of `DeliveryEvent`, for `isinstance` and `match`: derived, never listed again."""

AnyEvent = (
    DeliveryEvent
    | TelemetryReported
    | DroneMilestone
    | TrackingUpdated
    | BusinessRegistered
    | LivenessTick
    | FleetHeard
    | DroneLost
    | DroneFound
    | AirspacePublished
    | BusinessKeyRotated
    | BusinessKeyRevoked
    | WebhookEndpointRegistered
    | WebhookEndpointUpdated
    | WebhookEndpointDeleted
    | WebhookRedeliveryRequested
)
"""Every event type the codec knows: the delivery aggregate's and the others."""

EVENT_TYPES: dict[str, type[Event]] = {cls.__name__: cls for cls in get_args(AnyEvent)}
"""Event type tag (the class name) -> class, for the codec's slow path."""
