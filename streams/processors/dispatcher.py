"""Dispatch: the one place that chooses drones, fed by a single-partition topic.

Why a single partition: assigning needs a view of the whole fleet, and two workers
deciding at once could give one drone two deliveries. The `dispatch` topic has one
partition, so exactly one worker of the group owns it (Kafka moves it on rebalance) and
sees, in order, every new request and every change of a drone's availability. Its two
tables (the fleet, the waiting queue) are changelogged like any Faust table, so the new
owner after a rebalance or a crash resumes with the same view (what the fleet table
keeps, and what it leaves out: `DispatchProcessor._note`). The traffic is small: a
request per delivery, and a `FleetHeard` per gate batch naming the drones whose
availability changed or whose `fleet_refresh` came (see
`streams.processors.telemetry_gate`).

Dispatch proposes (an `AssignDrone` command); the delivery aggregate accepts it, or
refuses it if the delivery was cancelled meanwhile. A proposed drone is reserved until
its own telemetry shows it on that mission; fixes older than the reservation cannot free
it again. A cancellation or a reschedule frees it at once; a reservation its drone does
not take up within `take_up_within` is withdrawn (below), so no drone stays blocked and
no delivery stays assigned to a drone that never flies it.

Time, and why it comes from the log: the decisions on time (a drone silent too long, an
assignment not taken up, a delivery waiting too long) are made only on a `LivenessTick`,
a record the worker's Faust app writes into this very topic every few seconds (a timer
on the group's leader) with its wall time. "Now" for dispatch is the last tick read, and
it is stored with the fleet (`CLOCK_KEY`), so a rebuild from offset 0 reads the same
ticks between the same fixes and makes the same decisions; a decision on the processing
wall clock would differ on every replay. A drone's silence is measured in that clock
too (`heard_at`: the last tick before dispatch heard of it), never against the fix's own
time, which a speeded-up simulator sets in the past (`simulator.world.clock`).

Liveness: a drone dispatch has not heard of for `silent_after` is lost. It is never
proposed, a `DroneLost` record says so (on this topic; counted by the worker's metrics),
and the delivery it held (a reservation, or the mission its last fix flew) is taken
back with a `WithdrawAssignment` (`drone_lost`): the aggregate reschedules it before the
pickup and fails it with `drone_lost` after. The gate tells dispatch of every drone at
least every `fleet_refresh` (keep it well under `silent_after`), so a drone that flies
is never taken for lost. A lost drone's next fix makes it available again (`DroneFound`).
A drone that reports idle with no mission while dispatch holds it on one has forgotten
it: the simulator was restarted (its drones start idle at their depots and never read
old assignments). Its mission is withdrawn at once, as `drone_lost`: the parcel is as
gone as with a silent drone. A drone's normal end of mission is not mistaken for that:
the gate passes on every change of a drone's mission, so dispatch sees it fly home with
no delivery (returning) before it is idle.

Every wait ends: a delivery no drone can take within `promise` of entering the queue is
failed with `no_drone_available` (an `ExpireRequest`), so the business and its customer
get an answer instead of an endless "requested". Failing rather than waiting on: the
promise is what the business was told, and a parcel still at the pickup can be requested
again; waiting forever is what issue 17 found.

Reassignment: a drone that refuses its assignment or aborts before the pickup makes the
aggregate write `DeliveryRescheduled`, which the deliveries worker forwards here. The
delivery goes back into the queue at its original request time, and none of the drones
in its `declined_by` is proposed for it again (a drone whose own battery check refused it
would refuse again, and a proposal loop is worse than waiting). When no drone can take a
delivery, new or rescheduled, it keeps waiting: its customer has been told `requested`
or `rescheduled`, and any change of the fleet tries the queue again.

How the fleet view stays right: from two inputs of the drones' own topic (telemetry,
keyed by drone, so in order per drone). Fixes reach dispatch (as the `FleetHeard`
batches of the gate) only when a drone's availability changes or every `fleet_refresh`:
enough for position, far too late for the moments that change what a drone can take. Those come as
`DroneMilestone` events, which the gate passes on at once: `returned` (landed at a
depot: available, with its battery), `charged` (full again: long missions fit),
`battery_low` and `aborted` (on its way home: not available). A fleet event rather than
a flag in telemetry because it is rare (a few per mission, against a fix per second),
it is a fact operators and analysts want on its own, and the gate forwards it without
adding per-fix work to the hot path. A drone's returned or charged milestone and its
first idle fix say the same thing; whichever comes first wins, the other changes nothing.

The airspace, and why it too comes from this topic: dispatch weighs drones by their
routes around the no-fly zones and budgets the trip home to the depot nearest the
drop-off (`streams.domain.drone_choice`, issue 19). The group's leader copies each new
airspace it follows into this topic beside its ticks (`AirspacePublished`, as written on
the `airspace` topic); dispatch keeps it in the fleet table (`AIRSPACE_KEY`), so a new
owner has it, and a rebuild reads it at the same place between the same requests and
decides the same. Until one is read, the straight lines (as before issue 19).
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

import msgspec
import numpy as np

from contracts import (
    AirspacePublished,
    AirspaceRules,
    AnyEvent,
    AssignDrone,
    Command,
    DeliveryCancelled,
    DeliveryRequested,
    DeliveryRescheduled,
    DroneFound,
    DroneHeard,
    DroneLost,
    DroneMilestone,
    ExpireRequest,
    FleetHeard,
    GeoPoint,
    LivenessTick,
    TelemetryReported,
    WithdrawAssignment,
    WithdrawReason,
    decode_event,
    encode_command,
    encode_event,
    new_event_id,
)
from streams.domain.drone_choice import DispatchPolicy, choose_among
from streams.errors import UnexpectedRecordError
from streams.processors.fleet_index import FleetIndex
from streams.processors.records import REFUSALS, Outgoing, SourceRecord, refused
from streams.processors.telemetry_gate import FLEET_KEY

CLOCK_KEY = b""
"""The fleet table's key of dispatch's clock (the last tick's time): no drone id is empty."""
AIRSPACE_KEY = b"\x00airspace"
"""The fleet table's key of the airspace dispatch routes around: no drone id has a NUL."""
NOT_DRONES = frozenset({CLOCK_KEY, AIRSPACE_KEY})
"""The fleet table's keys that are not drones."""


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
    """Dispatch's clock when it proposed the drone (None before the first tick)."""
    heard_at: datetime | None = None
    """Dispatch's clock when it last heard of the drone (None: before the first tick)."""
    mission: str | None = None
    """The delivery the drone's last fix said it flies, if any."""
    lost: bool = False
    """Silent for longer than `silent_after`: not proposed until it reports again."""

    def available(self) -> bool:
        """Idle, not promised to a delivery, and not lost."""
        return self.idle and self.reserved_for is None and not self.lost


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
    queued_at: datetime | None = None
    """Dispatch's clock when it entered the queue (None before the first tick): `promise`
    counts from here, not from `requested_at`, which is the requester's clock."""


_fleet_decoder = msgspec.json.Decoder(FleetEntry)
_waiting_decoder = msgspec.json.Decoder(WaitingDelivery)
_clock_decoder = msgspec.json.Decoder(datetime)
_encoder = msgspec.json.Encoder()

log = logging.getLogger(__name__)
"""Each decision about a delivery or a drone, with their ids (`extra=`: JSON logs' fields),
so that one delivery can be followed through the services' logs (README, "Operations")."""


@dataclass
class DispatchProcessor:
    """Keeps the fleet and the waiting queue; proposes a drone when it can."""

    fleet: MutableMapping[bytes, bytes]
    queue: MutableMapping[bytes, bytes]
    policy: DispatchPolicy = field(default_factory=DispatchPolicy)
    take_up_within: timedelta = timedelta(seconds=30)
    """How long a proposed drone has to show it flies the delivery before it is withdrawn."""
    silent_after: timedelta = timedelta(seconds=30)
    """How long a drone may go unheard of before it is lost."""
    promise: timedelta = timedelta(minutes=30)
    """How long a delivery may wait for a drone before it fails with `no_drone_available`."""
    counts: dict[str, int] = field(default_factory=dict)
    """Liveness decisions since the worker started, by kind (the worker's metrics)."""
    _index: FleetIndex[FleetEntry] | None = field(default=None, init=False, repr=False)
    _clock: datetime | None = field(default=None, init=False, repr=False)
    _airspace: AirspaceRules | None = field(default=None, init=False, repr=False)
    _queue_weighed: bool = field(default=False, init=False, repr=False)
    """True once a round weighed the whole queue against the whole fleet in this
    process: until then a round never narrows to a few drones (`_assign_waiting`)."""

    def process(self, record: SourceRecord, now: datetime) -> list[Outgoing]:
        """Handle one record of the dispatch topic; a refused one becomes a dead letter."""
        try:
            return self._on_event(decode_event(record.value), now)
        except REFUSALS as refusal:
            return [refused(record, "dispatch", refusal, now)]

    def _on_event(self, event: AnyEvent, now: datetime) -> list[Outgoing]:
        out: list[Outgoing] = []
        if isinstance(event, FleetHeard):
            changed = [drone.drone_id for drone in event.drones if self._on_heard(drone, out)]
            return [*out, *self._assign_waiting(now, only=changed)] if changed else out
        elif isinstance(event, TelemetryReported):  # as gates before `FleetHeard` wrote
            if not self._on_heard(_heard_from(event), out):
                return out
            return [*out, *self._assign_waiting(now, only=[event.drone_id])]
        elif isinstance(event, DroneMilestone):
            if not self._on_milestone(event, out):
                return out
        elif isinstance(event, DeliveryRequested):
            if self.queue.get(event.delivery_id.encode()) is not None:
                return []  # a redelivered request: already waiting
            self._enqueue(_waiting(event))
        elif isinstance(event, DeliveryRescheduled):
            self._release(event.delivery_id)
            if self.queue.get(event.delivery_id.encode()) is not None:
                return []  # a redelivered reschedule: already waiting
            self._enqueue(_waiting(event))
        elif isinstance(event, DeliveryCancelled):
            self._forget(event.delivery_id)
        elif isinstance(event, LivenessTick):
            if not self._on_tick(event.occurred_at, out):
                return out
        elif isinstance(event, DroneLost | DroneFound):
            return []  # dispatch's own facts, read back: applied when they were decided
        elif isinstance(event, AirspacePublished):
            if not self._on_airspace(event):
                return []
        else:
            raise UnexpectedRecordError(event.event_type)
        return [*out, *self._assign_waiting(now)]

    def clock(self) -> datetime | None:
        """Dispatch's "now": the time of the last tick read (None before the first).

        Kept in memory once read (every drone heard asks for it); the table is read again
        only after a recovery (`forget_fleet_index`).
        """
        if self._clock is None:
            raw = self.fleet.get(CLOCK_KEY)
            self._clock = _clock_decoder.decode(raw) if raw else None
        return self._clock

    def airspace(self) -> AirspaceRules | None:
        """The airspace dispatch routes around (None before the first copy read).

        Kept in memory once read; the table is read again only after a recovery.
        """
        if self._airspace is None:
            raw = self.fleet.get(AIRSPACE_KEY)
            if raw:
                decoded = decode_event(raw)
                if isinstance(decoded, AirspacePublished):
                    self._airspace = AirspaceRules(decoded)
        return self._airspace

    def _on_airspace(self, airspace: AirspacePublished) -> bool:
        """Take a copy of the airspace; True when it changes what dispatch routes around.

        Copies of the one in force (a new leader copies again) change nothing.
        """
        current = self.airspace()
        if current is not None and current.airspace.event_id == airspace.event_id:
            return False
        self.fleet[AIRSPACE_KEY] = encode_event(airspace)
        self._airspace = AirspaceRules(airspace)
        return True

    def _enqueue(self, waiting: WaitingDelivery) -> None:
        queued = msgspec.structs.replace(waiting, queued_at=self.clock())
        self.queue[waiting.delivery_id.encode()] = _encoder.encode(queued)

    def _on_tick(self, now: datetime, out: list[Outgoing]) -> bool:
        """Apply the rules on time at `now`; True when a drone became available.

        Ticks from two leaders (a rebalance) may interleave: the clock only moves on,
        and a tick older than it changes nothing.
        """
        entries = self._entries()  # a recovered fleet counts from the recovered clock
        clock = self.clock()
        if clock is not None and now <= clock:
            return False
        self.fleet[CLOCK_KEY] = _encoder.encode(now)
        self._clock = now
        freed = False
        for entry in list(entries.values()):
            freed |= self._check_liveness(entry, now, out)
        for waiting in self.waiting():
            if waiting.queued_at is None:  # queued before the first tick: it starts now
                self._enqueue(msgspec.structs.replace(waiting, queued_at=now))
            elif now - waiting.queued_at > self.promise:
                del self.queue[waiting.delivery_id.encode()]
                self._count("expired_no_drone_available")
                log.warning(
                    "delivery %s: no drone within the promise; expiring it",
                    waiting.delivery_id,
                    extra={"delivery_id": waiting.delivery_id},
                )
                expiry = ExpireRequest(
                    command_id=new_event_id(),
                    delivery_id=waiting.delivery_id,
                    issued_at=now,
                    observed_at=now,
                )
                out.append(_command(expiry))
        return freed

    def _check_liveness(self, entry: FleetEntry, now: datetime, out: list[Outgoing]) -> bool:
        """Lose a silent drone, withdraw a reservation not taken up (one drone, at `now`).

        True when the drone became available (its reservation was withdrawn).
        """
        if entry.heard_at is None or (entry.reserved_for and entry.reserved_at is None):
            # Heard of (or proposed) before the first tick: its time starts now.
            heard = entry.heard_at or now
            reserved = entry.reserved_at or (now if entry.reserved_for else None)
            self._put(msgspec.structs.replace(entry, heard_at=heard, reserved_at=reserved))
        elif entry.lost:
            return False
        elif now - entry.heard_at > self.silent_after:
            delivery_id = entry.reserved_for or entry.mission
            lost = DroneLost(
                event_id=new_event_id(),
                sequence=1,
                occurred_at=now,
                recorded_at=now,
                drone_id=entry.drone_id,
                last_seen_at=entry.observed_at,
                delivery_id=delivery_id,
            )
            out.append(Outgoing("dispatch", FLEET_KEY, encode_event(lost)))
            self._count("drone_lost")
            log.warning(
                "drone %s silent since %s: lost",
                entry.drone_id,
                entry.heard_at.isoformat(),
                extra={"drone_id": entry.drone_id, "delivery_id": delivery_id},
            )
            if delivery_id is not None:
                out.append(self._withdraw(delivery_id, entry.drone_id, "drone_lost", now))
            self._put(
                msgspec.structs.replace(
                    entry, lost=True, reserved_for=None, reserved_at=None, mission=None
                )
            )
        elif (
            entry.reserved_for is not None
            and entry.reserved_at is not None
            and now - entry.reserved_at > self.take_up_within
        ):
            out.append(self._withdraw(entry.reserved_for, entry.drone_id, "not_taken_up", now))
            freed = msgspec.structs.replace(entry, reserved_for=None, reserved_at=None)
            self._put(freed)
            return freed.available()
        return False

    def _withdraw(
        self, delivery_id: str, drone_id: str, reason: WithdrawReason, now: datetime
    ) -> Outgoing:
        self._count(f"withdrawn_{reason}")
        log.warning(
            "delivery %s: assignment of drone %s withdrawn (%s)",
            delivery_id,
            drone_id,
            reason,
            extra={"delivery_id": delivery_id, "drone_id": drone_id},
        )
        return _command(
            WithdrawAssignment(
                command_id=new_event_id(),
                delivery_id=delivery_id,
                issued_at=now,
                drone_id=drone_id,
                reason=reason,
                observed_at=now,
            )
        )

    def _count(self, kind: str) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + 1

    def _heard(self, entry: FleetEntry | None, drone_id: str, out: list[Outgoing]) -> None:
        """A lost drone reported: say it is found (it becomes available again)."""
        if entry is not None and entry.lost:
            clock = self.clock() or entry.observed_at
            found = DroneFound(
                event_id=new_event_id(),
                sequence=1,
                occurred_at=clock,
                recorded_at=clock,
                drone_id=drone_id,
            )
            out.append(Outgoing("dispatch", FLEET_KEY, encode_event(found)))
            self._count("drone_found")
            log.info("drone %s reports again: found", drone_id, extra={"drone_id": drone_id})

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
        self._clock = None
        self._airspace = None
        self._queue_weighed = False  # the table keeps less than memory did (`_note`)

    def _fleet_index(self) -> FleetIndex[FleetEntry]:
        """The fleet table, decoded once, kept in step with its writes (`fleet_index`)."""
        if self._index is None:
            clock = self.clock()
            self._index = FleetIndex(
                _heard_by(_fleet_decoder.decode(raw), clock)
                for key, raw in self.fleet.items()
                if raw and key not in NOT_DRONES
            )
        return self._index

    def _entries(self) -> dict[str, FleetEntry]:
        return self._fleet_index().entries

    def _put(self, entry: FleetEntry) -> None:
        """Record a drone's new entry, in the index and in the table (its changelog)."""
        self.fleet[entry.drone_id.encode()] = _encoder.encode(entry)
        self._fleet_index().put(entry)

    def _note(self, before: FleetEntry | None, entry: FleetEntry) -> None:
        """Record what a drone's fix says; in the table only when it matters on recovery.

        A drone heard again is most often a drone that says what dispatch knew: flying
        its mission a little further on, or idle where it was. Writing each of those to
        the table was a changelog record per drone heard (2,000 a second at 10,000
        drones) for state a recovery does without: a busy drone's position is weighed
        by nobody until it is idle again (a material change), and how recently a drone
        was heard is given back on recovery (`_heard_by`). What a new owner must not
        miss is written: availability, missions, reservations, the lost flag, and an
        idle drone's position or battery once they moved (`_material`).
        """
        if before is None or _material(before, entry):
            self._put(entry)
        else:
            self._fleet_index().put(entry)

    def _release(self, delivery_id: str) -> None:
        """Free the drone promised to `delivery_id`, if one still is."""
        for entry in list(self._entries().values()):
            if entry.reserved_for == delivery_id:
                self._put(msgspec.structs.replace(entry, reserved_for=None, reserved_at=None))

    def _on_heard(self, fix: DroneHeard, out: list[Outgoing]) -> bool:
        """Update the drone's entry from a fix; True when the queue may now fit it.

        That is: available now and either not before, or moved or charged enough to be
        weighed again (`_material`). A drone available before and unchanged since could
        take no waiting delivery at the last round and cannot now.
        """
        entry = self._entries().get(fix.drone_id)
        if entry is not None and fix.occurred_at <= entry.observed_at:
            return False  # an older fix never overrides a newer one
        self._heard(entry, fix.drone_id, out)
        reserved_for, reserved_at = (
            (entry.reserved_for, entry.reserved_at) if entry else (None, None)
        )
        if reserved_for is not None and fix.delivery_id == reserved_for:
            reserved_for, reserved_at = None, None  # it took it up
        idle = fix.phase == "idle" and fix.delivery_id is None
        held = entry.mission if entry is not None and not entry.lost else None
        if idle and held is not None:
            # Idle with no mission while dispatch holds it on one: it forgot it.
            self._count("mission_forgotten")
            out.append(self._withdraw(held, fix.drone_id, "drone_lost", fix.occurred_at))
        updated = FleetEntry(
            drone_id=fix.drone_id,
            lat=fix.lat,
            lon=fix.lon,
            battery_pct=fix.battery_pct,
            idle=idle,
            observed_at=fix.occurred_at,
            reserved_for=reserved_for,
            reserved_at=reserved_at,
            heard_at=self.clock(),
            mission=fix.delivery_id,
        )
        self._note(entry, updated)
        return updated.available() and (
            entry is None or not entry.available() or _material(entry, updated)
        )

    def _on_milestone(self, milestone: DroneMilestone, out: list[Outgoing]) -> bool:
        """Update the drone's entry at once; True when it may now take a delivery."""
        entry = self._entries().get(milestone.drone_id)
        if entry is not None and milestone.occurred_at < entry.observed_at:
            return False  # older than what dispatch knows already
        self._heard(entry, milestone.drone_id, out)
        updated = FleetEntry(
            drone_id=milestone.drone_id,
            lat=milestone.lat,
            lon=milestone.lon,
            battery_pct=milestone.battery_pct,
            idle=milestone.kind in ("returned", "charged"),
            observed_at=milestone.occurred_at,
            reserved_for=entry.reserved_for if entry else None,
            reserved_at=entry.reserved_at if entry else None,
            heard_at=self.clock(),
            # An abort leaves the delivery to the drone's own report; returned or
            # charged means no mission. Battery low changes nothing about it.
            mission=entry.mission if entry and milestone.kind == "battery_low" else None,
        )
        self._put(updated)
        # A charged drone may fit a mission it could not before, even if it was idle.
        return updated.available()

    def _assign_waiting(self, now: datetime, only: Sequence[str] | None = None) -> list[Outgoing]:
        """Propose a drone for each waiting delivery that one can serve, oldest first.

        `only`: the drones a fix has just made weighable (newly available, moved or
        charged), when nothing else changed since the last round. Every delivery still
        waiting was weighed then against every other available drone and none could take
        it (a round stops early only when no drone is left), so only these can take one
        now: the round weighs them alone and decides what a round over the whole fleet
        would. It was a fifth of the stream worker at 10,000 drones (issue 20's
        profile): every `FleetHeard` that freed a drone weighed the whole queue against
        every available drone. The first round of a process, or after a recovery (the
        table keeps positions and batteries a little coarser than memory did), weighs
        them all.
        """
        waiting = self.waiting()
        if not waiting:
            return []
        index = self._fleet_index()
        narrow = only is not None and self._queue_weighed
        free = index.available_among(only) if narrow and only is not None else index.available()
        self._queue_weighed = True
        if not free.any():
            return []
        candidates = index.candidates()
        airspace = self.airspace()
        out: list[Outgoing] = []
        for delivery in waiting:
            if not free.any():
                break
            allowed = free
            if delivery.declined_by:
                declined = np.isin(candidates.drone_ids, list(delivery.declined_by))
                allowed = free & ~declined
            chosen = choose_among(
                candidates,
                allowed,
                delivery.pickup,
                delivery.dropoff,
                self.policy,
                airspace=airspace,
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
            out.append(_command(proposal))
            log.info(
                "delivery %s: drone %s proposed",
                delivery.delivery_id,
                drone_id,
                extra={"delivery_id": delivery.delivery_id, "drone_id": drone_id},
            )
            reserved = msgspec.structs.replace(
                index.entries[drone_id],
                reserved_for=delivery.delivery_id,
                reserved_at=self.clock(),
            )
            self._put(reserved)
            del self.queue[delivery.delivery_id.encode()]
        return out


def _command(command: Command) -> Outgoing:
    """A command to the delivery aggregate, keyed by its delivery."""
    return Outgoing("delivery_commands", command.delivery_id.encode(), encode_command(command))


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


MOVED_DEG = 0.0005
"""How far (about 50 m in latitude) an idle drone moves before the table is told."""
CHARGED_PCT = 1.0
"""How much an idle drone's battery changes before the table is told."""


def _material(before: FleetEntry, after: FleetEntry) -> bool:
    """True when a new owner of dispatch would decide differently without `after`."""
    if (
        before.idle != after.idle
        or before.mission != after.mission
        or before.reserved_for != after.reserved_for
        or before.reserved_at != after.reserved_at
        or before.lost != after.lost
        or before.heard_at is None
    ):
        return True
    return after.idle and (
        abs(after.lat - before.lat) > MOVED_DEG
        or abs(after.lon - before.lon) > MOVED_DEG
        or abs(after.battery_pct - before.battery_pct) >= CHARGED_PCT
    )


def _heard_by(entry: FleetEntry, clock: datetime | None) -> FleetEntry:
    """A recovered entry, heard of no earlier than the recovered clock.

    The table keeps `heard_at` only when something material changed (`_note`), so a
    drone that said nothing new for minutes reads as silent since then. Counting its
    silence from the recovery instead gives a truly silent drone up to `silent_after`
    more before it is lost after a rebalance, and loses no drone that flies: the gates
    tell dispatch of every drone within `fleet_refresh`.
    """
    if entry.lost or clock is None or (entry.heard_at is not None and entry.heard_at >= clock):
        return entry
    return msgspec.structs.replace(entry, heard_at=clock)


def _heard_from(fix: TelemetryReported) -> DroneHeard:
    """What dispatch needs of a fix (records of gates from before `FleetHeard`)."""
    return DroneHeard(
        drone_id=fix.drone_id,
        occurred_at=fix.occurred_at,
        lat=fix.lat,
        lon=fix.lon,
        battery_pct=fix.battery_pct,
        phase=fix.phase,
        delivery_id=fix.delivery_id,
    )
