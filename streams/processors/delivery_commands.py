"""The delivery aggregate at work: decide commands, fold events, tell who must hear.

Records of `delivery-commands` are commands: decided against the delivery's state
(`streams.domain.delivery.decide`), their events are applied at once (so the next
command sees them) and appended to the deliveries topic, where their return is
recognised by sequence and ignored. Events read from the deliveries topic (a request
from the API, or our own coming back) are applied the same way. New requests,
cancellations and rescheduled deliveries are forwarded to the dispatch topic (a
rescheduled one goes back into its queue); milestones are handed to tracking.

Kafka orders records within a partition of one topic, not across topics: a command read
before its delivery's request is parked in the repository, and decided as soon as the
request is applied (`DeliveryProcessor` takes them back, each refused on its own).
A `RequestDelivery` (a business's request with an Idempotency-Key) is the one command
that needs no state: it creates the delivery, or is a retry of the one it created.
Refusals are raised as typed errors (`streams.errors`), never dead-lettered here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from contracts import (
    AnyCommand,
    Delivered,
    DeliveryCancelled,
    DeliveryEvent,
    DeliveryFailed,
    DeliveryRequested,
    DeliveryRescheduled,
    PickedUp,
    RequestDelivery,
    encode_event,
)
from streams.domain.delivery import decide, evolve
from streams.errors import (
    CommandRefusedError,
    EventRefusedError,
    IllegalTransitionError,
    ParkingLotFullError,
)
from streams.processors.delivery_repository import DeliveryRepository
from streams.processors.records import Outgoing
from streams.processors.telemetry_gate import FLEET_KEY
from streams.processors.tracking_emitter import TrackingEmitter

MAX_PARKED = 16
"""Commands kept per unknown delivery; more is abuse or a bug, and is refused."""


@dataclass(frozen=True, slots=True)
class DeliveryCommandHandler:
    """Decides a delivery's commands and applies its events, through the repository."""

    repository: DeliveryRepository
    tracking: TrackingEmitter

    def handle(self, command: AnyCommand, raw: bytes, now: datetime) -> list[Outgoing]:
        """The events a command causes (appended and applied), or [] when it must wait.

        Raises `CommandRefusedError` when the state forbids it, `ParkingLotFullError`
        when too many commands already wait for a delivery nobody requested.
        """
        state = self.repository.state(command.delivery_id)
        if state is None and not isinstance(command, RequestDelivery):  # that one creates it
            if len(self.repository.parked_commands(command.delivery_id)) >= MAX_PARKED:
                raise ParkingLotFullError(command.delivery_id)
            self.repository.park(command.delivery_id, raw)
            return []
        try:
            events = decide(state, command, now)
        except IllegalTransitionError as error:
            raise CommandRefusedError(error) from error
        out: list[Outgoing] = []
        for event in events:
            out.append(Outgoing("deliveries", event.delivery_id.encode(), encode_event(event)))
            out.extend(self.apply(event))
        return out

    def apply(self, event: DeliveryEvent) -> list[Outgoing]:
        """Fold the event into the state; what dispatch and the customer must hear of it.

        A replayed event (its sequence applied already) changes nothing and sends
        nothing. Raises `EventRefusedError` when the event cannot follow the state.
        """
        before = self.repository.state(event.delivery_id)
        try:
            after = evolve(before, event)
        except IllegalTransitionError as error:
            raise EventRefusedError(error) from error
        if after is before:
            return []  # a replayed event: already applied
        self.repository.save_state(after)
        if isinstance(event, DeliveryRequested):
            return [Outgoing("dispatch", FLEET_KEY, encode_event(event))]
        if isinstance(event, PickedUp | Delivered | DeliveryFailed):
            return self.tracking.on_milestone(after, event)
        if isinstance(event, DeliveryCancelled | DeliveryRescheduled):
            return [
                Outgoing("dispatch", FLEET_KEY, encode_event(event)),
                *self.tracking.on_milestone(after, event),
            ]
        return []
