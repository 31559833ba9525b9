"""The delivery side: fold delivery events into state, turn fixes into ETAs and updates.

Reads `deliveries` and `delivery-telemetry`, both keyed by delivery id and
co-partitioned, so one worker owns everything about a delivery: its state (the fold of
its events) and its tracking memory (smoothed speed, last update), both in tables.
New requests, cancellations and rescheduled deliveries are forwarded to the dispatch
topic (a rescheduled one goes back into its queue). Every change of state a customer
must hear of at once (picked up, delivered, cancelled, rescheduled, failed) sends a
TrackingUpdated regardless of the rate limit; a delivery waiting for a drone again, or
ended without arriving, has no ETA.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import msgspec

from contracts import (
    DecodeError,
    Delivered,
    DeliveryCancelled,
    DeliveryEvent,
    DeliveryFailed,
    DeliveryRequested,
    DeliveryRescheduled,
    DeliveryStatus,
    DroneAssigned,
    GeoPoint,
    PickedUp,
    TelemetryReported,
    TrackingUpdated,
    decode_command,
    decode_event,
    encode_event,
    new_event_id,
)
from streams.domain.delivery import DeliveryState, decide, evolve
from streams.domain.eta import EtaModel, estimate, smooth_speed
from streams.errors import IllegalTransitionError
from streams.processors.records import Outgoing, SourceRecord, dead_letter
from streams.processors.telemetry_gate import FLEET_KEY


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
_parked_decoder = msgspec.json.Decoder(list[str])
_encoder = msgspec.json.Encoder()

NO_ETA: frozenset[DeliveryStatus] = frozenset({"cancelled", "rescheduled", "failed"})
"""States without an arrival to predict: ended, or waiting for a drone again."""

DELIVERY_EVENTS = (
    DeliveryRequested,
    DroneAssigned,
    PickedUp,
    Delivered,
    DeliveryCancelled,
    DeliveryRescheduled,
    DeliveryFailed,
)
"""The event types of the deliveries topic."""

MAX_PARKED = 16
"""Commands kept per unknown delivery; more is abuse or a bug, and is dead-lettered."""


@dataclass
class DeliveryProcessor:
    """Folds delivery events into state, computes the ETA from fixes, emits tracking.

    `states` and `tracking` are the worker's tables (delivery id bytes -> JSON bytes).
    Records of `commands_topic` are commands: decided against the state, their events are
    applied at once (so the next command sees them) and appended to the deliveries topic,
    where their return is recognised by sequence and ignored. Kafka orders records within
    a partition of one topic, not across topics: a command read before its delivery's
    request is parked, and decided as soon as the request is applied.
    """

    states: MutableMapping[bytes, bytes]
    tracking: MutableMapping[bytes, bytes]
    parked: MutableMapping[bytes, bytes] = field(default_factory=dict)
    """Commands that arrived before their delivery's request (JSON list of raw commands)."""
    commands_topic: str = "delivery-commands"
    eta_model: EtaModel = field(default_factory=EtaModel)
    min_interval: timedelta = timedelta(seconds=1)

    def process(self, record: SourceRecord, now: datetime) -> list[Outgoing]:
        """Handle one record of the deliveries, delivery-commands or delivery-telemetry topic."""
        if record.topic == self.commands_topic:
            return self._on_command(record, now)
        try:
            event = decode_event(record.value)
        except DecodeError as error:
            return [dead_letter(record, "deliveries", error.reason, error.detail, now)]
        if isinstance(event, TelemetryReported):
            return self._on_fix(event)
        if isinstance(event, DELIVERY_EVENTS):
            try:
                return self._on_delivery_event(event)
            except IllegalTransitionError as error:
                return [dead_letter(record, "deliveries", "illegal_transition", str(error), now)]
        return [dead_letter(record, "deliveries", "unexpected_type", event.event_type, now)]

    def _on_command(self, record: SourceRecord, now: datetime) -> list[Outgoing]:
        try:
            command = decode_command(record.value)
        except DecodeError as error:
            return [dead_letter(record, "deliveries", error.reason, error.detail, now)]
        state = self.state(command.delivery_id)
        if state is None:
            key = command.delivery_id.encode()
            waiting = _parked_decoder.decode(self.parked[key]) if self.parked.get(key) else []
            if len(waiting) >= MAX_PARKED:
                return [dead_letter(record, "deliveries", "too_many_parked", key.decode(), now)]
            self.parked[key] = _encoder.encode([*waiting, record.value.decode()])
            return []
        try:
            events = decide(state, command, now)
        except IllegalTransitionError as error:
            return [dead_letter(record, "deliveries", "command_refused", str(error), now)]
        out: list[Outgoing] = []
        for event in events:
            out.append(Outgoing("deliveries", event.delivery_id.encode(), encode_event(event)))
            out.extend(self._on_delivery_event(event))
        return out

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
        if isinstance(event, DeliveryRequested):
            return [Outgoing("dispatch", FLEET_KEY, encode_event(event)), *self._unpark(event)]
        if isinstance(event, PickedUp | Delivered | DeliveryFailed):
            return self._emit_for_milestone(after, event)
        if isinstance(event, DeliveryCancelled | DeliveryRescheduled):
            return [
                Outgoing("dispatch", FLEET_KEY, encode_event(event)),
                *self._emit_for_milestone(after, event),
            ]
        return []

    def _unpark(self, request: DeliveryRequested) -> list[Outgoing]:
        """Decide the commands that were waiting for this request, in arrival order."""
        key = request.delivery_id.encode()
        raw = self.parked.get(key)
        if not raw:
            return []
        del self.parked[key]
        out: list[Outgoing] = []
        for offset, value in enumerate(_parked_decoder.decode(raw)):
            parked = SourceRecord(self.commands_topic, -1, offset, key, value.encode())
            out.extend(self._on_command(parked, request.recorded_at))
        return out

    def _emit_for_milestone(
        self,
        state: DeliveryState,
        event: PickedUp | Delivered | DeliveryCancelled | DeliveryRescheduled | DeliveryFailed,
    ) -> list[Outgoing]:
        tracked = msgspec.structs.replace(
            self._tracking_state(state.delivery_id), hovering_since=None
        )  # the dwell at the stop just left is over
        if isinstance(event, DeliveryRescheduled):
            # The next drone's speed owes nothing to the last one's.
            tracked = msgspec.structs.replace(tracked, smoothed_speed_mps=None)
        if isinstance(event, Delivered):
            position: GeoPoint | None = state.dropoff
        elif isinstance(event, DeliveryCancelled | DeliveryRescheduled | DeliveryFailed):
            # The customer learns at once, from the drone's last known place if any.
            position = tracked.last_position or state.pickup
        else:
            position = tracked.last_position
        if position is None:
            return []
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
        predicted = "requested" if status == "rescheduled" else status
        hovered = (
            (observed_at - tracked.hovering_since).total_seconds()
            if tracked.hovering_since
            else 0.0
        )
        eta = estimate(
            predicted,
            position,
            altitude_m,
            state.pickup,
            state.dropoff,
            tracked.smoothed_speed_mps or 0.0,
            observed_at,
            self.eta_model,
            at_stop=tracked.hovering_since is not None,
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
            drone_id=state.drone_id,
            source_event_id=source_event_id,
            lat=position.lat,
            lon=position.lon,
            altitude_m=altitude_m,
            ground_speed_mps=ground_speed,
            status=status,
            remaining_m=eta.remaining_m,
            eta=None if status in NO_ETA else eta.at,
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
