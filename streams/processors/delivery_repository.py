"""The deliveries stage's tables as typed records: JSON in and out, and nothing else.

The tables are bytes -> bytes (delivery id -> JSON), because that is what a changelog
carries and what the runtime's `ChangeloggedTable` keeps per partition; the command
handler and the tracking emitter want a `DeliveryState`, a `TrackingMemory` and a list
of waiting commands. Keeping the codecs here means one place knows the stored format,
which the changelogs of running workers hold: change a field here and a restarted
worker must still read what the last one wrote.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass
from datetime import datetime

import msgspec

from contracts import GeoPoint, TrackingStatus
from streams.domain.delivery import DeliveryState
from streams.domain.route import RouteCursor


class TrackingMemory(msgspec.Struct, frozen=True, kw_only=True):
    """Per delivery: what the tracking side remembers between fixes."""

    sequence: int = 0
    """The last `TrackingUpdated`'s sequence (the next one sends this plus one)."""
    smoothed_speed_mps: float | None = None
    last_emitted_at: datetime | None = None
    last_status: TrackingStatus | None = None
    last_position: GeoPoint | None = None
    drone_id: str | None = None
    hovering_since: datetime | None = None
    """When the drone began its current dwell (at the pickup or the drop-off), if any."""
    route: RouteCursor | None = None
    """The route its drone flies around the no-fly zones, planned at its first fix (None:
    no airspace known yet, or no drone): the ETA's distances are along it."""


_state_decoder = msgspec.json.Decoder(DeliveryState)
_tracking_decoder = msgspec.json.Decoder(TrackingMemory)
_parked_decoder = msgspec.json.Decoder(list[str])
_encoder = msgspec.json.Encoder()
_NOTHING_TRACKED = TrackingMemory()


@dataclass(frozen=True, slots=True)
class DeliveryRepository:
    """The three tables of the deliveries stage (delivery id bytes -> JSON bytes)."""

    states: MutableMapping[bytes, bytes]
    """The fold of each delivery's events (`DeliveryState`)."""
    tracking: MutableMapping[bytes, bytes]
    """What tracking remembers of each delivery (`TrackingMemory`)."""
    parked: MutableMapping[bytes, bytes]
    """Commands read before their delivery's request (a JSON list of the raw commands)."""

    def state(self, delivery_id: str) -> DeliveryState | None:
        """The delivery's current state; None before its request."""
        raw = self.states.get(delivery_id.encode())
        return _state_decoder.decode(raw) if raw else None

    def save_state(self, state: DeliveryState) -> None:
        """Store the delivery's new state."""
        self.states[state.delivery_id.encode()] = _encoder.encode(state)

    def tracking_memory(self, delivery_id: str) -> TrackingMemory:
        """What tracking remembers of the delivery (nothing yet: the defaults)."""
        raw = self.tracking.get(delivery_id.encode())
        return _tracking_decoder.decode(raw) if raw else _NOTHING_TRACKED

    def save_tracking_memory(self, delivery_id: str, memory: TrackingMemory) -> None:
        """Store what tracking remembers of the delivery."""
        self.tracking[delivery_id.encode()] = _encoder.encode(memory)

    def parked_commands(self, delivery_id: str) -> list[str]:
        """The raw commands waiting for the delivery's request, in arrival order."""
        raw = self.parked.get(delivery_id.encode())
        return _parked_decoder.decode(raw) if raw else []

    def park(self, delivery_id: str, command: bytes) -> None:
        """Add a raw command to those waiting for the delivery's request."""
        waiting = self.parked_commands(delivery_id)
        self.parked[delivery_id.encode()] = _encoder.encode([*waiting, command.decode()])

    def unpark(self, delivery_id: str) -> list[str]:
        """Take the waiting commands away (the request has come), in arrival order."""
        waiting = self.parked_commands(delivery_id)
        if waiting:
            del self.parked[delivery_id.encode()]
        return waiting
