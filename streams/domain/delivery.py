"""The delivery aggregate: decide(state, command) -> events, evolve(state, event) -> state.

Both are pure (but for fresh event ids). The state of a delivery is always the fold of
its events with `evolve`; `decide` is how a command becomes events, refusing illegal ones with
`IllegalTransitionError` (or a subclass naming the case). Events arrive at-least-once, so
`evolve` ignores an event whose sequence it has already applied (idempotent fold).

    requested   --AssignDrone-->                assigned
    rescheduled --AssignDrone-->                assigned
    assigned    --ReportPickup-->               picked_up
    assigned    --RefuseAssignment/ReportAbort--> rescheduled
    picked_up   --ReportDropoff-->              delivered   (final)
    picked_up   --ReportAbort-->                failed      (final, with the reason)
    requested / assigned / rescheduled --CancelDelivery--> cancelled (final)
    assigned    --WithdrawAssignment-->         rescheduled (lost drone, or not taken up)
    picked_up   --WithdrawAssignment(drone_lost)--> failed  (final, `drone_lost`)
    requested / rescheduled --ExpireRequest-->  failed      (final, `no_drone_available`)
    (none)      --RequestDelivery-->            requested   (a business's request with an
                                                             Idempotency-Key)

Idempotency-Key: the API derives the delivery id of a keyed request from the business and
its key, and sends `RequestDelivery` with the digest of the request's body instead of
writing `DeliveryRequested` itself. The first one becomes `DeliveryRequested` (carrying
the digest); a retry with the same digest changes nothing (no second event, on any
replica, after any restart: the state is the fold of the log); a different request under
the same key is refused with `IdempotencyConflictError`. A keyed cancellation carries its
digest the same way: repeating it changes nothing, another one under the same key is
refused. A cancellation from anyone but the delivery's own business is refused
(`NotTheOwnerError`), whatever the API checked before.

A drone that refuses its assignment, or aborts before the pickup, gives the delivery
up: it is `rescheduled` (back in the dispatch queue; the customer is told) and its
drone joins `declined_by`, which dispatch will not propose again. A drone that aborts
with the parcel on board flies it back to its depot and the delivery `failed` with the
abort's reason: flying it out again is a new request (a business decision, with the
parcel at the depot instead of the pickup), not a continuation of this one. A cancel
after the pickup report is refused with `TooLateToCancelError`; a report from a drone
that gave the delivery up already is a redelivery and changes nothing.

Dispatch's two commands come from its clock (`streams.processors.dispatcher`), which
may be behind the aggregate: a withdrawal of a drone the delivery no longer has (it was
rescheduled, delivered, or the proposal was refused), or an expiry of a delivery that
got its drone meanwhile, is stale and changes nothing instead of being dead-lettered.
A withdrawn drone joins `declined_by` like one that gave the delivery up: a drone that
lost or ignored this mission once is not proposed for it again (a loop is worse than a
wait, and every wait ends: the promise expires).
"""

from __future__ import annotations

from datetime import datetime
from typing import TypedDict

import msgspec

from contracts import (
    CANCELLABLE_STATUSES,
    FINAL_STATUSES,
    AnyCommand,
    AssignDrone,
    CancelDelivery,
    Delivered,
    DeliveryCancelled,
    DeliveryEvent,
    DeliveryFailed,
    DeliveryRequested,
    DeliveryRescheduled,
    DeliveryStatus,
    DroneAssigned,
    ExpireRequest,
    GeoPoint,
    PickedUp,
    RefuseAssignment,
    ReportAbort,
    ReportDropoff,
    ReportPickup,
    RequestDelivery,
    WithdrawAssignment,
    new_event_id,
)
from streams.errors import IllegalTransitionError, NotTheAssignedDroneError, TooLateToCancelError


class IdempotencyConflictError(IllegalTransitionError):
    """A request (or cancellation) under an Idempotency-Key already used for another one."""

    def __init__(self, delivery_id: str, status: str | None, attempted: str) -> None:
        super().__init__(
            delivery_id,
            status,
            f"{attempted} with an Idempotency-Key already used for a different request",
        )


class NotTheOwnerError(IllegalTransitionError):
    """A command about a delivery from a business that does not own it."""


class DeliveryState(msgspec.Struct, frozen=True, kw_only=True):
    """The fold of one delivery's events."""

    delivery_id: str
    business_id: str
    status: DeliveryStatus
    pickup: GeoPoint
    dropoff: GeoPoint
    version: int
    requested_at: datetime
    drone_id: str | None = None
    delivered_at: datetime | None = None
    declined_by: tuple[str, ...] = ()
    """Drones that refused or aborted this delivery; none of them is assigned it again."""
    failure_reason: str | None = None
    request_digest: str | None = None
    """The digest of the keyed request that created the delivery (None: no key)."""
    cancel_digest: str | None = None
    """The digest of the keyed cancellation that ended it (None: none, or no key)."""

    @property
    def is_final(self) -> bool:
        """No event may follow."""
        return self.status in FINAL_STATUSES


ASSIGNABLE: tuple[DeliveryStatus, ...] = ("requested", "rescheduled")
"""A delivery waiting for a drone: new, or given up by its previous drone."""


def evolve(state: DeliveryState | None, event: DeliveryEvent) -> DeliveryState:
    """Apply one event; replays of already applied sequences leave the state unchanged."""
    if state is not None and event.sequence <= state.version:
        return state
    match event:
        case DeliveryRequested():
            if state is not None:
                raise IllegalTransitionError(event.delivery_id, state.status, "DeliveryRequested")
            return DeliveryState(
                delivery_id=event.delivery_id,
                business_id=event.business_id,
                status="requested",
                pickup=event.pickup,
                dropoff=event.dropoff,
                version=event.sequence,
                requested_at=event.occurred_at,
                request_digest=event.request_digest,
            )
        case DroneAssigned():
            current = _require(state, event, allowed=ASSIGNABLE)
            return msgspec.structs.replace(
                current, status="assigned", drone_id=event.drone_id, version=event.sequence
            )
        case PickedUp():
            current = _require(state, event, allowed=("assigned",))
            return msgspec.structs.replace(current, status="picked_up", version=event.sequence)
        case Delivered():
            current = _require(state, event, allowed=("picked_up",))
            return msgspec.structs.replace(
                current, status="delivered", version=event.sequence, delivered_at=event.occurred_at
            )
        case DeliveryCancelled():
            current = _require(state, event, allowed=CANCELLABLE_STATUSES)
            return msgspec.structs.replace(
                current,
                status="cancelled",
                version=event.sequence,
                cancel_digest=event.request_digest,
            )
        case DeliveryRescheduled():
            current = _require(state, event, allowed=("assigned",))
            return msgspec.structs.replace(
                current,
                status="rescheduled",
                drone_id=None,
                declined_by=event.declined_by,
                version=event.sequence,
            )
        case DeliveryFailed():
            # With a drone: it had the parcel. Without: none took it (no_drone_available).
            ended = ASSIGNABLE if event.drone_id is None else ("picked_up",)
            current = _require(state, event, allowed=ended)
            return msgspec.structs.replace(
                current, status="failed", failure_reason=event.reason, version=event.sequence
            )


class _Envelope(TypedDict):
    """The fields every event decided here shares."""

    event_id: str
    sequence: int
    recorded_at: datetime
    delivery_id: str


def decide(state: DeliveryState | None, command: AnyCommand, now: datetime) -> list[DeliveryEvent]:
    """Turn a command into the events it causes: [] if already done, or refuse it.

    A command repeated after it took effect (at-least-once delivery) yields no event;
    a command the state forbids raises `IllegalTransitionError`.
    """
    if isinstance(command, RequestDelivery):
        return _request(state, command, now)
    if state is None:
        raise IllegalTransitionError(command.delivery_id, None, command.command_type)
    common = _Envelope(
        event_id=new_event_id(),
        sequence=state.version + 1,
        recorded_at=now,
        delivery_id=state.delivery_id,
    )
    match command:
        case AssignDrone():
            if state.status not in ASSIGNABLE:
                if state.drone_id == command.drone_id and not state.is_final:
                    return []  # the same proposal, redelivered
                raise IllegalTransitionError(state.delivery_id, state.status, "AssignDrone")
            if command.drone_id in state.declined_by:
                raise IllegalTransitionError(
                    state.delivery_id,
                    state.status,
                    f"AssignDrone to {command.drone_id}, which gave this delivery up already",
                )
            return [
                DroneAssigned(
                    **common,
                    occurred_at=command.issued_at,
                    drone_id=command.drone_id,
                    pickup=state.pickup,
                    dropoff=state.dropoff,
                )
            ]
        case RequestDelivery():  # decided above, before a state is required
            return _request(state, command, now)
        case CancelDelivery():
            if command.requested_by != state.business_id:
                raise NotTheOwnerError(
                    state.delivery_id,
                    state.status,
                    f"CancelDelivery by {command.requested_by}, not the delivery's business",
                )
            if state.status == "cancelled":
                if command.request_digest is not None and state.cancel_digest not in (
                    None,
                    command.request_digest,
                ):
                    raise IdempotencyConflictError(
                        state.delivery_id, state.status, "CancelDelivery"
                    )
                return []
            if state.status in ("picked_up", "delivered"):
                raise TooLateToCancelError(state.delivery_id, state.status, "CancelDelivery")
            if state.status not in CANCELLABLE_STATUSES:
                raise IllegalTransitionError(state.delivery_id, state.status, "CancelDelivery")
            return [
                DeliveryCancelled(
                    **common,
                    occurred_at=command.issued_at,
                    requested_by=command.requested_by,
                    reason=command.reason,
                    drone_id=state.drone_id,
                    request_digest=command.request_digest,
                )
            ]
        case ReportPickup():
            _require_drone(state, command.drone_id, command.command_type)
            if state.status in ("picked_up", "delivered"):
                return []
            if state.status != "assigned":
                raise IllegalTransitionError(state.delivery_id, state.status, "ReportPickup")
            return [PickedUp(**common, occurred_at=command.observed_at, drone_id=command.drone_id)]
        case ReportDropoff():
            _require_drone(state, command.drone_id, command.command_type)
            if state.status == "delivered":
                return []
            if state.status != "picked_up":
                raise IllegalTransitionError(state.delivery_id, state.status, "ReportDropoff")
            return [Delivered(**common, occurred_at=command.observed_at, drone_id=command.drone_id)]
        case ReportAbort() | RefuseAssignment():
            return _give_up(state, command, common)
        case WithdrawAssignment():
            return _withdraw(state, command, common)
        case ExpireRequest():
            if state.status not in ASSIGNABLE:
                return []  # it got a drone (or ended) before dispatch's clock said so
            return [
                DeliveryFailed(
                    **common,
                    occurred_at=command.observed_at,
                    drone_id=None,
                    reason="no_drone_available",
                )
            ]


def _request(
    state: DeliveryState | None, command: RequestDelivery, now: datetime
) -> list[DeliveryEvent]:
    """A keyed request: the delivery's first event, nothing for a retry, or refused."""
    if state is not None:
        if (
            state.request_digest == command.request_digest
            and state.business_id == command.business_id
        ):
            return []  # the same request again (a retry after a timeout, another replica)
        raise IdempotencyConflictError(state.delivery_id, state.status, "RequestDelivery")
    return [
        DeliveryRequested(
            event_id=new_event_id(),
            sequence=1,
            occurred_at=command.issued_at,
            recorded_at=now,
            delivery_id=command.delivery_id,
            business_id=command.business_id,
            pickup=command.pickup,
            dropoff=command.dropoff,
            request_digest=command.request_digest,
            quoted_at=command.quoted_at,  # the first request's quote; a retry's is not kept
            quoted_pickup_at=command.quoted_pickup_at,
            quoted_dropoff_at=command.quoted_dropoff_at,
        )
    ]


def _give_up(
    state: DeliveryState, command: ReportAbort | RefuseAssignment, common: _Envelope
) -> list[DeliveryEvent]:
    """The drone gives the delivery up: rescheduled before the pickup, failed after it."""
    drone_id, attempted = command.drone_id, command.command_type
    if drone_id in state.declined_by:
        return []  # it gave this delivery up already: a redelivered report
    if state.status in ("cancelled", "failed") and drone_id == state.drone_id:
        return []  # the delivery ended first (a cancel race), or this report is a replay
    _require_drone(state, drone_id, attempted)
    if state.status == "assigned":
        return [
            DeliveryRescheduled(
                **common,
                occurred_at=command.observed_at,
                drone_id=drone_id,
                reason=command.reason,
                pickup=state.pickup,
                dropoff=state.dropoff,
                requested_at=state.requested_at,
                declined_by=(*state.declined_by, drone_id),
            )
        ]
    if state.status == "picked_up" and isinstance(command, ReportAbort):
        return [
            DeliveryFailed(
                **common, occurred_at=command.observed_at, drone_id=drone_id, reason=command.reason
            )
        ]
    raise IllegalTransitionError(state.delivery_id, state.status, attempted)


def _withdraw(
    state: DeliveryState, command: WithdrawAssignment, common: _Envelope
) -> list[DeliveryEvent]:
    """Dispatch takes the delivery back: rescheduled before the pickup, failed after it."""
    if state.drone_id != command.drone_id or command.drone_id in state.declined_by:
        return []  # stale: the delivery has another drone, or none, or this one gave it up
    if state.status == "assigned":
        return [
            DeliveryRescheduled(
                **common,
                occurred_at=command.observed_at,
                drone_id=command.drone_id,
                reason=command.reason,
                pickup=state.pickup,
                dropoff=state.dropoff,
                requested_at=state.requested_at,
                declined_by=(*state.declined_by, command.drone_id),
            )
        ]
    if state.status == "picked_up" and command.reason == "drone_lost":
        return [
            DeliveryFailed(
                **common,
                occurred_at=command.observed_at,
                drone_id=command.drone_id,
                reason="drone_lost",
            )
        ]
    return []  # ended already, or taken up (picked up) after all


def _require_drone(state: DeliveryState, drone_id: str, attempted: str) -> None:
    if state.drone_id != drone_id:
        raise NotTheAssignedDroneError(
            state.delivery_id, state.status, f"{attempted} by {drone_id}, not the assigned drone"
        )


def fold(events: list[DeliveryEvent]) -> DeliveryState | None:
    """The state after all `events` (in sequence order)."""
    state: DeliveryState | None = None
    for event in sorted(events, key=lambda e: e.sequence):
        state = evolve(state, event)
    return state


def _require(
    state: DeliveryState | None, event: DeliveryEvent, allowed: tuple[DeliveryStatus, ...]
) -> DeliveryState:
    if state is None or state.status not in allowed:
        raise IllegalTransitionError(
            event.delivery_id, state.status if state else None, event.event_type
        )
    return state
