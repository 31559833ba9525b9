"""The delivery aggregate: decide(state, command) -> events, evolve(state, event) -> state.

Both are pure (but for fresh event ids). The state of a delivery is always the fold of
its events with `evolve`; `decide` is how a command becomes events, refusing illegal ones with
`IllegalTransitionError`. Events arrive at-least-once, so `evolve` ignores an event whose
sequence it has already applied (idempotent fold).
"""

from __future__ import annotations

from datetime import datetime
from typing import TypedDict

import msgspec

from contracts import (
    FINAL_STATUSES,
    AnyCommand,
    AssignDrone,
    CancelDelivery,
    Delivered,
    DeliveryCancelled,
    DeliveryEvent,
    DeliveryRequested,
    DeliveryStatus,
    DroneAssigned,
    GeoPoint,
    PickedUp,
    ReportDropoff,
    ReportPickup,
    new_event_id,
)
from streams.errors import IllegalTransitionError


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

    @property
    def is_final(self) -> bool:
        """No event may follow."""
        return self.status in FINAL_STATUSES


CANCELLABLE: tuple[DeliveryStatus, ...] = ("requested", "assigned")
"""A delivery may be cancelled until its parcel is picked up."""


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
            )
        case DroneAssigned():
            current = _require(state, event, allowed=("requested",))
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
            current = _require(state, event, allowed=CANCELLABLE)
            return msgspec.structs.replace(current, status="cancelled", version=event.sequence)


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
            if state.status != "requested":
                if state.drone_id == command.drone_id and not state.is_final:
                    return []  # the same proposal, redelivered
                raise IllegalTransitionError(state.delivery_id, state.status, "AssignDrone")
            return [
                DroneAssigned(
                    **common,
                    occurred_at=command.issued_at,
                    drone_id=command.drone_id,
                    pickup=state.pickup,
                    dropoff=state.dropoff,
                )
            ]
        case CancelDelivery():
            if state.status == "cancelled":
                return []
            if state.status not in CANCELLABLE:
                raise IllegalTransitionError(state.delivery_id, state.status, "CancelDelivery")
            return [
                DeliveryCancelled(
                    **common,
                    occurred_at=command.issued_at,
                    requested_by=command.requested_by,
                    reason=command.reason,
                    drone_id=state.drone_id,
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


def _require_drone(state: DeliveryState, drone_id: str, attempted: str) -> None:
    if state.drone_id != drone_id:
        raise IllegalTransitionError(
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
