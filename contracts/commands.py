"""Commands to the delivery aggregate: requests that it may accept or refuse.

Only the aggregate (the stream worker owning the delivery's partition) writes the
delivery's events, so their sequence numbers never collide. Everyone else asks: dispatch
proposes a drone (and takes a delivery back from a lost drone, or gives up finding one),
the API asks to cancel, a drone reports what it did (picked up, dropped off, aborted) or
refuses an assignment it cannot fly. Commands travel
on `delivery-commands`, keyed by delivery id and co-partitioned with `deliveries`; the
aggregate decides against the current state and appends the resulting events, or refuses
with a reason (dead-lettered, never silent).
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from contracts.errors import DecodeError
from contracts.events import (
    AbortReason,
    GeoPoint,
    Identifier,
    RefusalReason,
    RequestDigest,
    UtcDatetime,
    WithdrawReason,
)


class Command(msgspec.Struct, frozen=True, kw_only=True, tag_field="command_type", tag=True):
    """Fields every command has."""

    command_id: Identifier
    delivery_id: Identifier
    issued_at: UtcDatetime

    @property
    def command_type(self) -> str:
        """The tag written on the wire: the class name."""
        return type(self).__name__


class AssignDrone(Command, frozen=True, kw_only=True, tag=True):
    """Dispatch proposes this drone for the delivery."""

    drone_id: Identifier


class RequestDelivery(Command, frozen=True, kw_only=True, tag=True):
    """A business asks for a delivery with an `Idempotency-Key`.

    The API's one request that goes through the aggregate rather than straight to the
    log as `DeliveryRequested`: `delivery_id` is derived from the business and its key,
    so every retry of the request, on any API replica, after any restart, names the same
    delivery; the aggregate records `DeliveryRequested` (with `request_digest`) for the
    first, nothing for a retry with the same digest, and refuses a different request
    under the same key.
    """

    business_id: Identifier
    pickup: GeoPoint
    dropoff: GeoPoint
    request_digest: RequestDigest
    quoted_at: UtcDatetime | None = None
    quoted_pickup_at: UtcDatetime | None = None
    quoted_dropoff_at: UtcDatetime | None = None
    """The quote the 202 gives (`DeliveryRequested`'s fields, copied by the aggregate).
    Not part of `request_digest`: a retry is quoted anew, but the first request's quote
    is the one recorded, and the retry must not look like another request."""


class CancelDelivery(Command, frozen=True, kw_only=True, tag=True):
    """The business (or its customer) asks to cancel; allowed only before pickup.

    Only the delivery's own business may (the aggregate checks `requested_by`). With an
    `Idempotency-Key`, `request_digest` lets the aggregate tell a retry (same digest:
    nothing more happens) from another cancellation under the same key (refused).
    """

    requested_by: Identifier
    reason: Annotated[str, msgspec.Meta(max_length=500)] = ""
    request_digest: RequestDigest | None = None


class ReportPickup(Command, frozen=True, kw_only=True, tag=True):
    """A drone reports it has the parcel on board (at `observed_at`)."""

    drone_id: Identifier
    observed_at: UtcDatetime


class ReportDropoff(Command, frozen=True, kw_only=True, tag=True):
    """A drone reports the parcel is at the drop-off (at `observed_at`)."""

    drone_id: Identifier
    observed_at: UtcDatetime


class ReportAbort(Command, frozen=True, kw_only=True, tag=True):
    """A drone reports it gave its mission up in flight (at `observed_at`), and why.

    Before the pickup the delivery is rescheduled (another drone will fly it); with the
    parcel on board it fails with this reason.
    """

    drone_id: Identifier
    reason: AbortReason
    observed_at: UtcDatetime


class RefuseAssignment(Command, frozen=True, kw_only=True, tag=True):
    """A drone refuses the assignment it was given (it never took off for it)."""

    drone_id: Identifier
    reason: RefusalReason
    observed_at: UtcDatetime


class WithdrawAssignment(Command, frozen=True, kw_only=True, tag=True):
    """Dispatch takes the delivery back from a drone that cannot be counted on for it.

    The drone went silent (or reported idle with no mission: it forgot it), `drone_lost`,
    or it never took the assignment up, `not_taken_up`. Before the pickup the delivery
    is rescheduled; with the parcel on board a lost drone fails it with `drone_lost`.
    `observed_at` is the time of the dispatch tick (or fix) that decided it.
    """

    drone_id: Identifier
    reason: WithdrawReason
    observed_at: UtcDatetime


class ExpireRequest(Command, frozen=True, kw_only=True, tag=True):
    """Dispatch found no drone for the delivery within the promise given to the business.

    A delivery still waiting (requested or rescheduled) fails with `no_drone_available`.
    """

    observed_at: UtcDatetime


AnyCommand = (
    AssignDrone
    | RequestDelivery
    | CancelDelivery
    | ReportPickup
    | ReportDropoff
    | ReportAbort
    | RefuseAssignment
    | WithdrawAssignment
    | ExpireRequest
)
"""Every command the aggregate knows."""

_encoder = msgspec.json.Encoder()
_decoder: msgspec.json.Decoder[AnyCommand] = msgspec.json.Decoder(AnyCommand)


def encode_command(command: Command) -> bytes:
    """Serialize a command to its wire form (UTF-8 JSON, with `command_type`)."""
    return _encoder.encode(command)


def decode_command(data: bytes) -> AnyCommand:
    """Decode a command, or raise `DecodeError` with reason `invalid_command`."""
    try:
        return _decoder.decode(data)
    except (msgspec.DecodeError, UnicodeDecodeError) as error:  # invalid UTF-8 is the latter
        raise DecodeError("invalid_command", str(error)) from error
