"""What the agents do with each record, without Kafka: input bytes in, output records out.

The Faust agents in `streams.app` only read records, call these methods and send what
they return; everything here runs in unit tests with plain dicts in place of tables.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import msgspec

from contracts import (
    DeadLetter,
    DecodeError,
    Delivered,
    DeliveryEvent,
    DeliveryRequested,
    DeliveryStatus,
    DroneAssigned,
    GeoPoint,
    PickedUp,
    TelemetryReported,
    TrackingUpdated,
    decode_event,
    encode_dead_letter,
    encode_event,
    new_event_id,
)
from streams.delivery import AssignDrone, DeliveryState, decide, evolve
from streams.dispatch import DispatchPolicy, DroneSnapshot, choose_drone
from streams.errors import IllegalTransitionError
from streams.eta import EtaModel, estimate, smooth_speed
from streams.validation import LastFix, ValidationPolicy, check_fix, remember


@dataclass(frozen=True, slots=True)
class SourceRecord:
    """A consumed record and where it came from (for dead-letter envelopes)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A record to send: which logical topic, its key and value."""

    topic: str  # "deliveries" | "delivery_telemetry" | "tracking" | "deadletter"
    key: bytes
    value: bytes


def dead_letter(
    record: SourceRecord, processor: str, reason: str, detail: str, now: datetime
) -> Outgoing:
    """The outgoing dead-letter record for a refused input."""
    envelope = DeadLetter.wrap(
        source_topic=record.topic,
        source_partition=record.partition,
        source_offset=record.offset,
        processor=processor,
        reason=reason,
        detail=detail,
        key=record.key,
        value=record.value,
        refused_at=now,
    )
    return Outgoing("deadletter", record.topic.encode(), encode_dead_letter(envelope))


class TrackingState(msgspec.Struct, frozen=True, kw_only=True):
    """Per delivery: what the tracking side remembers between fixes."""

    sequence: int = 0
    smoothed_speed_mps: float | None = None
    last_emitted_at: datetime | None = None
    last_status: DeliveryStatus | None = None
    last_position: GeoPoint | None = None
    drone_id: str | None = None
    hovering_since: datetime | None = None
    """When the drone began its current dwell (at the pickup or the drop-off), if any."""


_state_decoder = msgspec.json.Decoder(DeliveryState)
_tracking_decoder = msgspec.json.Decoder(TrackingState)
_encoder = msgspec.json.Encoder()


@dataclass
class TelemetryGate:
    """Validates raw telemetry and keeps the fleet view that dispatch chooses from.

    Telemetry is keyed by drone, so one worker sees every fix of the drones of its
    partitions; the last accepted fix per drone is all the validator needs.
    """

    policy: ValidationPolicy = field(default_factory=ValidationPolicy)
    last_fixes: dict[str, LastFix] = field(default_factory=dict)
    fleet: dict[str, DroneSnapshot] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def process(self, record: SourceRecord, now: datetime) -> list[Outgoing]:
        """Dead-letter an invalid fix; route a valid on-mission fix to its delivery."""
        try:
            event = decode_event(record.value)
        except DecodeError as error:
            return self._refuse(record, error.reason, error.detail, now)
        if not isinstance(event, TelemetryReported):
            return self._refuse(record, "unexpected_type", event.event_type, now)
        reason = check_fix(event, self.last_fixes.get(event.drone_id), now, self.policy)
        if reason is not None:
            return self._refuse(record, reason, f"drone {event.drone_id} seq {event.sequence}", now)
        self.last_fixes[event.drone_id] = remember(event)
        self.fleet[event.drone_id] = DroneSnapshot(
            drone_id=event.drone_id,
            position=GeoPoint(event.lat, event.lon),
            battery_pct=event.battery_pct,
            idle=event.phase == "idle" and event.delivery_id is None,
        )
        self.counts["valid"] = self.counts.get("valid", 0) + 1
        if event.delivery_id is None:
            return []
        return [Outgoing("delivery_telemetry", event.delivery_id.encode(), record.value)]

    def _refuse(
        self, record: SourceRecord, reason: str, detail: str, now: datetime
    ) -> list[Outgoing]:
        self.counts[reason] = self.counts.get(reason, 0) + 1
        return [dead_letter(record, "validate-telemetry", reason, detail, now)]


@dataclass
class DeliveryProcessor:
    """Folds delivery events into state, computes the ETA from fixes, emits tracking.

    `states` and `tracking` are the worker's tables (delivery id bytes -> JSON bytes);
    `pending` holds requested deliveries waiting for a drone, for the dispatch timer.
    """

    states: MutableMapping[bytes, bytes]
    tracking: MutableMapping[bytes, bytes]
    eta_model: EtaModel = field(default_factory=EtaModel)
    min_interval: timedelta = timedelta(seconds=1)
    pending: dict[str, DeliveryState] = field(default_factory=dict)

    def process(self, record: SourceRecord, now: datetime) -> list[Outgoing]:
        """Handle one record of the deliveries or delivery-telemetry topic."""
        try:
            event = decode_event(record.value)
        except DecodeError as error:
            return [dead_letter(record, "deliveries", error.reason, error.detail, now)]
        if isinstance(event, TelemetryReported):
            return self._on_fix(event)
        if isinstance(event, DeliveryRequested | DroneAssigned | PickedUp | Delivered):
            try:
                return self._on_delivery_event(event)
            except IllegalTransitionError as error:
                return [dead_letter(record, "deliveries", "illegal_transition", str(error), now)]
        return [dead_letter(record, "deliveries", "unexpected_type", event.event_type, now)]

    def state(self, delivery_id: str) -> DeliveryState | None:
        """The current state of a delivery, from the table."""
        raw = self.states.get(delivery_id.encode())
        return _state_decoder.decode(raw) if raw else None

    def _tracking_state(self, delivery_id: str) -> TrackingState:
        raw = self.tracking.get(delivery_id.encode())
        return _tracking_decoder.decode(raw) if raw else TrackingState()

    def _on_delivery_event(self, event: DeliveryEvent) -> list[Outgoing]:
        before = self.state(event.delivery_id)
        after = evolve(before, event)
        if after is before:
            return []  # a replayed event: already applied
        self.states[event.delivery_id.encode()] = _encoder.encode(after)
        if after.status == "requested":
            self.pending[after.delivery_id] = after
        else:
            self.pending.pop(after.delivery_id, None)
        if isinstance(event, PickedUp | Delivered):
            return self._emit_for_milestone(after, event)
        return []

    def _emit_for_milestone(
        self, state: DeliveryState, event: PickedUp | Delivered
    ) -> list[Outgoing]:
        tracked = msgspec.structs.replace(
            self._tracking_state(state.delivery_id), hovering_since=None
        )  # the dwell at the stop just left is over
        if tracked.last_position is None:
            return []
        position = state.dropoff if isinstance(event, Delivered) else tracked.last_position
        return self._emit(
            state, tracked, position, 0.0, event.occurred_at, event.event_id, 0.0, force=True
        )

    def _on_fix(self, fix: TelemetryReported) -> list[Outgoing]:
        assert fix.delivery_id is not None  # the gate routes only on-mission fixes
        state = self.state(fix.delivery_id)
        if state is None or state.is_final or state.drone_id != fix.drone_id:
            return []
        tracked = self._tracking_state(fix.delivery_id)
        speed = smooth_speed(tracked.smoothed_speed_mps, fix.ground_speed_mps, self.eta_model)
        hovering = fix.phase in ("at_pickup", "at_dropoff")
        since = (tracked.hovering_since or fix.occurred_at) if hovering else None
        tracked = msgspec.structs.replace(tracked, smoothed_speed_mps=speed, hovering_since=since)
        return self._emit(
            state,
            tracked,
            GeoPoint(fix.lat, fix.lon),
            fix.altitude_m,
            fix.occurred_at,
            fix.event_id,
            fix.ground_speed_mps,
            force=False,
        )

    def _emit(
        self,
        state: DeliveryState,
        tracked: TrackingState,
        position: GeoPoint,
        altitude_m: float,
        observed_at: datetime,
        source_event_id: str,
        ground_speed: float,
        *,
        force: bool,
    ) -> list[Outgoing]:
        """Record the fix; return a TrackingUpdated unless one was sent too recently."""
        status = display_status(state.status)
        hovered = (
            (observed_at - tracked.hovering_since).total_seconds()
            if tracked.hovering_since
            else 0.0
        )
        eta = estimate(
            status,
            position,
            state.pickup,
            state.dropoff,
            tracked.smoothed_speed_mps or 0.0,
            observed_at,
            self.eta_model,
            dwell_elapsed_s=hovered,
        )
        due = (
            force
            or tracked.last_emitted_at is None
            or status != tracked.last_status
            or observed_at - tracked.last_emitted_at >= self.min_interval
        )
        if not due:
            self.tracking[state.delivery_id.encode()] = _encoder.encode(
                msgspec.structs.replace(tracked, last_position=position)
            )
            return []
        update = TrackingUpdated(
            event_id=new_event_id(),
            sequence=tracked.sequence + 1,
            occurred_at=observed_at,
            recorded_at=observed_at,
            delivery_id=state.delivery_id,
            drone_id=state.drone_id or "",
            source_event_id=source_event_id,
            lat=position.lat,
            lon=position.lon,
            altitude_m=altitude_m,
            ground_speed_mps=ground_speed,
            status=status,
            remaining_m=eta.remaining_m,
            eta=eta.at,
        )
        self.tracking[state.delivery_id.encode()] = _encoder.encode(
            msgspec.structs.replace(
                tracked,
                sequence=update.sequence,
                last_emitted_at=observed_at,
                last_status=status,
                last_position=position,
                drone_id=state.drone_id,
            )
        )
        return [Outgoing("tracking", state.delivery_id.encode(), encode_event(update))]


def display_status(status: DeliveryStatus) -> DeliveryStatus:
    """What the customer sees while the drone flies: 'assigned' becomes 'en route'."""
    if status == "assigned":
        return "en_route_to_pickup"
    if status == "picked_up":
        return "en_route_to_dropoff"
    return status


@dataclass
class Dispatcher:
    """Assigns waiting deliveries to drones from the gate's fleet view."""

    gate: TelemetryGate
    deliveries: DeliveryProcessor
    policy: DispatchPolicy = field(default_factory=DispatchPolicy)
    reserved: dict[str, datetime] = field(default_factory=dict)
    reservation_ttl: timedelta = timedelta(seconds=30)

    def tick(self, now: datetime) -> list[Outgoing]:
        """Try to assign every waiting delivery; return the DroneAssigned records."""
        self.reserved = {
            d: at for d, at in self.reserved.items() if now - at < self.reservation_ttl
        }
        busy = {d for d, snap in self.gate.fleet.items() if not snap.idle}
        for busy_drone in busy & set(self.reserved):
            del self.reserved[busy_drone]  # its telemetry shows the mission: no longer needed
        out: list[Outgoing] = []
        for delivery_id, state in sorted(
            self.deliveries.pending.items(), key=lambda kv: kv[1].requested_at
        ):
            drone_id = choose_drone(
                self.gate.fleet.values(),
                state.pickup,
                state.dropoff,
                set(self.reserved),
                self.policy,
            )
            if drone_id is None:
                break  # no drone can take the oldest request: keep the queue's order
            for event in decide(state, AssignDrone(drone_id=drone_id, at=now)):
                out.append(Outgoing("deliveries", delivery_id.encode(), encode_event(event)))
            self.reserved[drone_id] = now
            del self.deliveries.pending[delivery_id]
        return out
