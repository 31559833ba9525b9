"""The delivery aggregate: decide(state, command) -> events, evolve(state, event) -> state.

Both are pure. The state of a delivery is always the fold of its events with `evolve`;
`decide` is how a command becomes events, refusing illegal ones with
`IllegalTransitionError`. Events arrive at-least-once, so `evolve` ignores an event whose
sequence it has already applied (idempotent fold).
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from contracts import (
    Delivered,
    DeliveryEvent,
    DeliveryRequested,
    DeliveryStatus,
    DroneAssigned,
    GeoPoint,
    PickedUp,
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
        return self.status == "delivered"


class AssignDrone(msgspec.Struct, frozen=True, kw_only=True):
    """Command: give the delivery to this drone."""

    drone_id: str
    at: datetime


Command = AssignDrone


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


def decide(state: DeliveryState | None, command: Command) -> list[DeliveryEvent]:
    """Turn a command into the events it causes, or refuse it."""
    if state is None:
        raise IllegalTransitionError("?", None, type(command).__name__)
    if state.status != "requested":
        raise IllegalTransitionError(state.delivery_id, state.status, "AssignDrone")
    return [
        DroneAssigned(
            event_id=new_event_id(),
            sequence=state.version + 1,
            occurred_at=command.at,
            recorded_at=command.at,
            delivery_id=state.delivery_id,
            drone_id=command.drone_id,
            pickup=state.pickup,
            dropoff=state.dropoff,
        )
    ]


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
