"""What the simulator puts on the wire: each engine event as a (topic, key, value) record.

Telemetry is an event on the telemetry topic, keyed by drone id. A milestone is a report
(a command) to the delivery aggregate, keyed by delivery id: the drone does not write
the delivery's events itself, only the aggregate does, so their sequence numbers never
collide with a cancellation or a reassignment. Kept apart from the runner so that the
chaos layer and the benchmarks work on the very records the runner sends.
"""

from __future__ import annotations

from typing import NamedTuple

from contracts import (
    Delivered,
    Event,
    PickedUp,
    ReportDropoff,
    ReportPickup,
    Topics,
    encode_command,
    encode_event,
)


class WireRecord(NamedTuple):
    """One record to produce."""

    topic: str
    key: bytes
    value: bytes


def to_wire(event: Event, topics: Topics) -> WireRecord:
    """The record for one engine event (a telemetry fix or a milestone)."""
    if isinstance(event, PickedUp | Delivered):
        kind = ReportPickup if isinstance(event, PickedUp) else ReportDropoff
        report = kind(
            command_id=event.event_id,
            delivery_id=event.delivery_id,
            issued_at=event.recorded_at,
            drone_id=event.drone_id,
            observed_at=event.occurred_at,
        )
        return WireRecord(
            topics.delivery_commands.name, event.delivery_id.encode(), encode_command(report)
        )
    return WireRecord(topics.telemetry.name, event.aggregate_id.encode(), encode_event(event))
