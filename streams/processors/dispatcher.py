"""Dispatch: the one place that chooses drones, fed by a single-partition topic.

Why a single partition: assigning needs a view of the whole fleet, and two workers
deciding at once could give one drone two deliveries. The `dispatch` topic has one
partition, so exactly one worker of the group owns it (Kafka moves it on rebalance) and
sees, in order, every new request and every change of a drone's availability. Its two
tables (the fleet, the waiting queue) are changelogged like any Faust table, so the new
owner after a rebalance or a crash resumes with the same view. The traffic is small: a
request per delivery, and a fix per drone when its availability changes or every
`fleet_refresh` (see `streams.processors.telemetry_gate`).

Dispatch proposes (an `AssignDrone` command); the delivery aggregate accepts it, or
refuses it if the delivery was cancelled meanwhile. A proposed drone is reserved until
its own telemetry shows it on that mission; fixes older than the reservation cannot free
it again. A reservation that its drone never takes up expires after `reservation_ttl`,
and a cancellation or a reschedule frees it at once, so no drone stays blocked.

Reassignment: a drone that refuses its assignment or aborts before the pickup makes the
aggregate write `DeliveryRescheduled`, which the deliveries worker forwards here. The
delivery goes back into the queue at its original request time, and none of the drones
in its `declined_by` is proposed for it again (a drone whose own battery check refused it
would refuse again, and a proposal loop is worse than waiting). When no drone can take a
delivery, new or rescheduled, it keeps waiting: its customer has been told `requested`
or `rescheduled`, and any change of the fleet tries the queue again.

How the fleet view stays right: from two inputs of the drones' own topic (telemetry,
keyed by drone, so in order per drone). Fixes reach dispatch only when a drone's
availability changes or every `fleet_refresh` (`streams.processors.telemetry_gate`):
enough for position, far too late for the moments that change what a drone can take. Those come as
`DroneMilestone` events, which the gate passes on at once: `returned` (landed at a
depot: available, with its battery), `charged` (full again: long missions fit),
`battery_low` and `aborted` (on its way home: not available). A fleet event rather than
a flag in telemetry because it is rare (a few per mission, against a fix per second),
it is a fact operators and analysts want on its own, and the gate forwards it without
adding per-fix work to the hot path. A drone's returned or charged milestone and its
first idle fix say the same thing; whichever comes first wins, the other changes nothing.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

import msgspec
import numpy as np

from contracts import (
    AnyEvent,
    AssignDrone,
    DeliveryCancelled,
    DeliveryRequested,
    DeliveryRescheduled,
    DroneMilestone,
    GeoPoint,
    TelemetryReported,
    decode_event,
    encode_command,
    new_event_id,
)
from streams.domain.drone_choice import DispatchPolicy, choose_among
from streams.errors import UnexpectedRecordError
from streams.processors.fleet_index import FleetIndex
from streams.processors.records import REFUSALS, Outgoing, SourceRecord, refused


class FleetEntry(msgspec.Struct, frozen=True, kw_only=True):
    """Dispatch's view of one drone."""

    drone_id: str
    lat: float
    lon: float
    battery_pct: float
    idle: bool
    observed_at: datetime
    reserved_for: str | None = None
    reserved_at: datetime | None = None

    def available(self) -> bool:
        """Idle, and not promised to a delivery."""
        return self.idle and self.reserved_for is None


class WaitingDelivery(msgspec.Struct, frozen=True, kw_only=True):
    """A delivery in dispatch's queue: what choosing its drone needs, and no more.

    Not the aggregate's `DeliveryState`: dispatch knows a delivery only from its request
    or its reschedule, and owes the aggregate's other fields nothing. The field names are
    the ones `DeliveryState` has, which earlier workers stored in this table, so a queue
    recovered from their changelog still decodes (msgspec skips the other fields).
    """

    delivery_id: str
    status: Literal["requested", "rescheduled"]
    """Why it waits: new, or given up by its last drone (what its customer was told)."""
    pickup: GeoPoint
    dropoff: GeoPoint
    requested_at: datetime
    """Its place in the queue: a rescheduled delivery keeps its original request time."""
    declined_by: tuple[str, ...] = ()
    """Drones that gave it up: never proposed for it again."""


_fleet_decoder = msgspec.json.Decoder(FleetEntry)
_waiting_decoder = msgspec.json.Decoder(WaitingDelivery)
_encoder = msgspec.json.Encoder()


@dataclass
class DispatchProcessor:
    """Keeps the fleet and the waiting queue; proposes a drone when it can."""

    fleet: MutableMapping[bytes, bytes]
    queue: MutableMapping[bytes, bytes]
    policy: DispatchPolicy = field(default_factory=DispatchPolicy)
    reservation_ttl: timedelta = timedelta(seconds=60)
    _index: FleetIndex[FleetEntry] | None = field(default=None, init=False, repr=False)

    def process(self, record: SourceRecord, now: datetime) -> list[Outgoing]:
        """Handle one record of the dispatch topic; a refused one becomes a dead letter."""
        try:
            return self._on_event(decode_event(record.value), now)
        except REFUSALS as refusal:
            return [refused(record, "dispatch", refusal, now)]

    def _on_event(self, event: AnyEvent, now: datetime) -> list[Outgoing]:
        if isinstance(event, TelemetryReported):
            if not self._on_fix(event, now):
                return []
        elif isinstance(event, DroneMilestone):
            if not self._on_milestone(event):
                return []
        elif isinstance(event, DeliveryRequested):
            if self.queue.get(event.delivery_id.encode()) is not None:
                return []  # a redelivered request: already waiting
            self.queue[event.delivery_id.encode()] = _encoder.encode(_waiting(event))
        elif isinstance(event, DeliveryRescheduled):
            self._release(event.delivery_id)
            if self.queue.get(event.delivery_id.encode()) is not None:
                return []  # a redelivered reschedule: already waiting
            self.queue[event.delivery_id.encode()] = _encoder.encode(_waiting(event))
        elif isinstance(event, DeliveryCancelled):
            self._forget(event.delivery_id)
        else:
            raise UnexpectedRecordError(event.event_type)
        return self._assign_waiting(now)

    def waiting(self) -> list[WaitingDelivery]:
        """The deliveries waiting for a drone, oldest first."""
        queued = [_waiting_decoder.decode(raw) for raw in self.queue.values() if raw]
        return sorted(queued, key=lambda waiting: (waiting.requested_at, waiting.delivery_id))

    def _forget(self, delivery_id: str) -> None:
        """A cancelled delivery leaves the queue and frees the drone promised to it."""
        self.queue.pop(delivery_id.encode(), None)
        self._release(delivery_id)

    def forget_fleet_index(self) -> None:
        """The fleet table was recovered (a rebalance): re-read it when next needed."""
        self._index = None

    def _fleet_index(self) -> FleetIndex[FleetEntry]:
        """The fleet table, decoded once, kept in step with its writes (`fleet_index`)."""
        if self._index is None:
            self._index = FleetIndex(
                _fleet_decoder.decode(raw) for raw in self.fleet.values() if raw
            )
        return self._index

    def _entries(self) -> dict[str, FleetEntry]:
        return self._fleet_index().entries

    def _put(self, entry: FleetEntry) -> None:
        self.fleet[entry.drone_id.encode()] = _encoder.encode(entry)
        self._fleet_index().put(entry)

    def _release(self, delivery_id: str) -> None:
        """Free the drone promised to `delivery_id`, if one still is."""
        for entry in list(self._entries().values()):
            if entry.reserved_for == delivery_id:
                self._put(msgspec.structs.replace(entry, reserved_for=None, reserved_at=None))

    def _on_fix(self, fix: TelemetryReported, now: datetime) -> bool:
        """Update the drone's entry; True when it may now take a delivery."""
        entry = self._entries().get(fix.drone_id)
        if entry is not None and fix.occurred_at <= entry.observed_at:
            return False  # an older fix never overrides a newer one
        reserved_for, reserved_at = (
            (entry.reserved_for, entry.reserved_at) if entry else (None, None)
        )
        if reserved_for is not None and reserved_at is not None:
            took_it = fix.delivery_id == reserved_for
            expired = now - reserved_at > self.reservation_ttl
            if took_it or expired:
                reserved_for, reserved_at = None, None
        updated = FleetEntry(
            drone_id=fix.drone_id,
            lat=fix.lat,
            lon=fix.lon,
            battery_pct=fix.battery_pct,
            idle=fix.phase == "idle" and fix.delivery_id is None,
            observed_at=fix.occurred_at,
            reserved_for=reserved_for,
            reserved_at=reserved_at,
        )
        self._put(updated)
        return updated.available() and (entry is None or not entry.available())

    def _on_milestone(self, milestone: DroneMilestone) -> bool:
        """Update the drone's entry at once; True when it may now take a delivery."""
        entry = self._entries().get(milestone.drone_id)
        if entry is not None and milestone.occurred_at < entry.observed_at:
            return False  # older than what dispatch knows already
        updated = FleetEntry(
            drone_id=milestone.drone_id,
            lat=milestone.lat,
            lon=milestone.lon,
            battery_pct=milestone.battery_pct,
            idle=milestone.kind in ("returned", "charged"),
            observed_at=milestone.occurred_at,
            reserved_for=entry.reserved_for if entry else None,
            reserved_at=entry.reserved_at if entry else None,
        )
        self._put(updated)
        # A charged drone may fit a mission it could not before, even if it was idle.
        return updated.available()

    def _assign_waiting(self, now: datetime) -> list[Outgoing]:
        """Propose a drone for each waiting delivery that one can serve, oldest first."""
        waiting = self.waiting()
        if not waiting:
            return []
        index = self._fleet_index()
        free = index.available()
        if not free.any():
            return []
        candidates = index.candidates()
        out: list[Outgoing] = []
        for delivery in waiting:
            if not free.any():
                break
            allowed = free
            if delivery.declined_by:
                declined = np.isin(candidates.drone_ids, list(delivery.declined_by))
                allowed = free & ~declined
            chosen = choose_among(
                candidates, allowed, delivery.pickup, delivery.dropoff, self.policy
            )
            if chosen is None:
                continue  # none can take this one now; it must not block the others
            free[chosen] = False
            drone_id = candidates.drone_ids[chosen]
            proposal = AssignDrone(
                command_id=new_event_id(),
                delivery_id=delivery.delivery_id,
                issued_at=now,
                drone_id=drone_id,
            )
            out.append(
                Outgoing(
                    "delivery_commands", delivery.delivery_id.encode(), encode_command(proposal)
                )
            )
            reserved = msgspec.structs.replace(
                index.entries[drone_id], reserved_for=delivery.delivery_id, reserved_at=now
            )
            self._put(reserved)
            del self.queue[delivery.delivery_id.encode()]
        return out


def _waiting(event: DeliveryRequested | DeliveryRescheduled) -> WaitingDelivery:
    """The queue entry of a new or a rescheduled delivery, from its event alone.

    A rescheduled one keeps its place (its original request time) and the drones that
    gave it up.
    """
    again = event if isinstance(event, DeliveryRescheduled) else None
    return WaitingDelivery(
        delivery_id=event.delivery_id,
        status="rescheduled" if again else "requested",
        pickup=event.pickup,
        dropoff=event.dropoff,
        requested_at=again.requested_at if again else event.occurred_at,
        declined_by=again.declined_by if again else (),
    )
