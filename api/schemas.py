"""Request and response bodies: what the OpenAPI document shows the world.

Statuses and phases are the contracts' `Literal` types, never listed here again: they
appear as enums in the OpenAPI document, from which the live map's TypeScript types are
generated, so a new value reaches the page's type check without anyone copying it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from api.errors import ProblemReason
from contracts import DeliveryStatus, DronePhase, TrackingStatus


class PointIn(BaseModel):
    """A WGS84 position in degrees."""

    model_config = ConfigDict(extra="forbid")

    lat: float = Field(ge=-90, le=90, allow_inf_nan=False)
    lon: float = Field(ge=-180, le=180, allow_inf_nan=False)


class DeliveryRequestIn(BaseModel):
    """A business's pickup request."""

    model_config = ConfigDict(extra="forbid")

    pickup: PointIn
    dropoff: PointIn


class CancelRequestIn(BaseModel):
    """Why the delivery is cancelled (optional, kept with the event)."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(default="", max_length=500, pattern=r"^[^\x00]*$")


class CancellationAcceptedPublic(BaseModel):
    """202 body: the cancellation is asked for; the live tracking shows the outcome."""

    delivery_id: str
    status: Literal["cancellation_requested"]


class QuotePublic(BaseModel):
    """The promise before a drone flies the delivery (issue 19).

    When the pickup and the drop-off should happen, and what makes it up (`api.quote`
    says how it is counted).
    """

    pickup_eta: datetime
    """When the parcel should be on board: landed at the pickup and its dwell done (the
    `picked_up` status)."""
    dropoff_eta: datetime
    """When the delivery should be complete: landed at the drop-off, parcel left."""
    wait_s: float
    """Before a drone is assigned: 0 while more drones are free than deliveries wait."""
    to_pickup_s: float
    """The flight to the pickup, round the no-fly zones."""
    to_dropoff_s: float
    """From the parcel on board to the end at the drop-off (flight and dwell)."""
    quoted_at: datetime


class DeliveryAcceptedPublic(BaseModel):
    """202 body: the delivery id and what the customer needs to follow it."""

    delivery_id: str
    status: Literal["requested"]
    tracking_token: str
    tracking_url: str
    websocket_url: str
    websocket_subprotocols: list[str]
    quote: QuotePublic | None = None
    """The ETAs at the pickup and the drop-off, as of the request (a keyed request's
    retry: as of the retry, while the delivery still waits). None while the read model
    cannot say how many drones are free, or no airspace is known."""


class DeliveryStatusPublic(BaseModel):
    """A delivery as its customer may see it, from the read model.

    `status` is the aggregate's state (`delivery_status_view`: `assigned`, `picked_up`),
    not the live tracking's `en_route_to_*`: the view folds the delivery's events.
    """

    delivery_id: str
    status: DeliveryStatus
    pickup: PointIn
    dropoff: PointIn
    requested_at: datetime
    drone_id: str | None
    delivered_at: datetime | None
    eta: datetime | None
    position: PointIn | None
    remaining_m: float | None


class TrackingMessagePublic(BaseModel):
    """A websocket message: the snapshot on connect, then each update.

    A `TrackingUpdated`, so `status` is what the customer is shown (`TrackingStatus`).
    """

    type: Literal["snapshot", "update"]
    delivery_id: str
    sequence: int
    status: TrackingStatus
    lat: float
    lon: float
    altitude_m: float
    remaining_m: float
    eta: datetime | None
    observed_at: datetime
    eta_earliest: datetime | None = None
    """The window's start (issue 19): the ETA less the 90th percentile of the errors of past
    ETAs given this long ahead, learned by the stream worker (`streams.domain.eta_window`)
    and carried by the update itself; None without an ETA, and in updates older than it."""
    eta_latest: datetime | None = None
    """The window's end: the ETA less the 10th percentile of those errors."""


class TrackingStateMessagePublic(BaseModel):
    """A websocket message without a position: the delivery's state, from the read model.

    Sent when there is no position to show: while the delivery waits for a drone (first
    at once, then whenever its place changes), when the API has no update of it in
    memory (after a restart, on another replica) and no position is recorded, and after
    a rescheduled, failed or cancelled update to say why. A final `status` is the last
    message: the socket is then closed with 1000.
    """

    type: Literal["state"]
    delivery_id: str
    status: TrackingStatus
    reason: str | None
    """Why it was rescheduled, failed or cancelled (`battery`, `drone_lost`,
    `no_drone_available`, a business's words for a cancellation, ...); None otherwise."""
    waiting_ahead: int | None
    """While it waits for a drone: the waiting deliveries requested before it (dispatch
    serves in request order), 0 when it is next; None when not waiting or not yet counted."""
    waiting_total: int | None
    """While it waits: how many deliveries wait for a drone in all, itself included."""
    quote: QuotePublic | None = None
    """While it waits: the ETAs at the pickup and the drop-off as of now (sent again when
    they move by more than 30 s); None otherwise, or when they cannot be counted."""


class ProblemPublic(BaseModel):
    """RFC 9457 problem details."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    reason: ProblemReason
    """Why, for a client to act on: e.g. `rate_limited` (429, with `Retry-After`),
    `body_too_large` (413), `idempotency_key_reused` (422), why a delivery no drone could
    serve (422), an airspace not known yet (503). Every problem has one."""


PRINTABLE = r"^[^\x00-\x1f\x7f]+$"
"""No control characters (PostgreSQL's text cannot hold NUL; names get displayed)."""


class BusinessRegistrationIn(BaseModel):
    """Who is signing up: a display name and how to reach them."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, pattern=PRINTABLE)
    contact: str = Field(min_length=1, max_length=320, pattern=PRINTABLE)


class BusinessPublic(BaseModel):
    """A registered business."""

    business_id: str
    name: str
    contact: str
    registered_at: datetime


class KeyRotatedPublic(BaseModel):
    """201 body of a rotation: the new key, shown this once; the old one's last moment."""

    business_id: str
    key_id: str
    api_key: str
    previous_key_id: str
    previous_valid_until: datetime


class KeyRevocationIn(BaseModel):
    """Why an operator revokes a key (kept with the event)."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(default="", max_length=500, pattern=r"^[^\x00]*$")


class KeyRevokedPublic(BaseModel):
    """200 body of a revocation: the key is refused from now on."""

    business_id: str
    key_id: str
    status: Literal["revoked"]


class BusinessRegisteredPublic(BusinessPublic):
    """201/202 body of a registration: the API key, shown this once and never again.

    `status` is `active` when the key already works (the read model has it) and
    `pending` when the registration is recorded but not yet projected: the key starts
    working within moments, without registering again.
    """

    key_id: str
    api_key: str
    status: Literal["active", "pending"]


class DeliveryPagePublic(BaseModel):
    """A page of a business's deliveries, newest first; `next_cursor` is None on the last."""

    items: list[DeliveryStatusPublic]
    next_cursor: str | None


class DeliveryEventPublic(BaseModel):
    """One event of a delivery's history."""

    sequence: int
    event_type: str
    occurred_at: datetime
    drone_id: str | None
    reason: str | None
    """Why it was rescheduled, failed or cancelled (those events only)."""


class TrackPointPublic(BaseModel):
    """Where the drone was in one tracking update its customer was sent."""

    sequence: int
    observed_at: datetime
    lat: float
    lon: float


class DeliveryHistoryPublic(BaseModel):
    """What happened to a delivery, in order, and the track its customer was shown.

    `track` is every tracking update's position in order (`delivery_track_view`): the
    live map redraws the track from it after a reload.
    """

    delivery_id: str
    events: list[DeliveryEventPublic]
    track: list[TrackPointPublic]


class DronePublic(BaseModel):
    """A drone's latest fix."""

    drone_id: str
    observed_at: datetime
    lat: float
    lon: float
    altitude_m: float
    ground_speed_mps: float
    heading_deg: float
    battery_pct: float
    phase: DronePhase
    delivery_id: str | None


class DronePagePublic(BaseModel):
    """A page of the fleet, by drone id; `next_cursor` is None on the last."""

    items: list[DronePublic]
    next_cursor: str | None


class BatterySummaryPublic(BaseModel):
    """The fleet's battery levels (percent), over each drone's latest fix."""

    min_pct: float | None
    avg_pct: float | None
    max_pct: float | None
    below_20: int
    from_20_to_50: int
    from_50_to_80: int
    from_80: int


class FleetSummaryPublic(BaseModel):
    """The fleet at a glance."""

    drones: int
    on_delivery: int
    silent: int
    """Drones whose latest fix is older than `silent_after_s`."""
    silent_after_s: float
    by_phase: dict[str, int]
    battery: BatterySummaryPublic
    latest_fix_at: datetime | None


class FleetSnapshotPublic(BaseModel):
    """The fleet websocket's first message: every drone's latest fix."""

    type: Literal["snapshot"]
    drones: list[DronePublic]


class FleetUpdatePublic(BaseModel):
    """A fleet websocket message after the snapshot: one delivery's tracking update."""

    type: Literal["update"]
    delivery_id: str
    drone_id: str | None
    sequence: int
    status: TrackingStatus
    lat: float
    lon: float
    altitude_m: float
    remaining_m: float
    eta: datetime | None
    observed_at: datetime


class ZonePublic(BaseModel):
    """A no-fly zone: its name and its boundary (an open ring of points)."""

    name: str
    boundary: list[PointIn]


class DepotPublic(BaseModel):
    """A depot, where drones take off, land and charge."""

    name: str
    position: PointIn


class AirspacePublic(BaseModel):
    """The airspace in force: where drones may not fly, where they start, what is served."""

    name: str
    version: int
    """The airspace's version (the event's sequence): it grows with every change."""
    published_at: datetime
    zones: list[ZonePublic]
    depots: list[DepotPublic]
    service_area: list[PointIn]
    """The polygon the platform serves (an open ring): pickups and drop-offs lie inside."""
    range_m: float
    """The longest mission (nearest depot, pickup, drop-off, nearest depot) a drone flies."""
