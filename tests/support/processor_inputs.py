"""What the stream processors' tests feed them: consumed records of events and commands.

A processor takes a `SourceRecord` (topic, partition, offset, key, value); these wrap the
factories' events and the commands the way the stages hand them over.
"""

from __future__ import annotations

from datetime import datetime

from contracts import (
    AnyCommand,
    DroneHeard,
    DroneMilestone,
    FleetHeard,
    TelemetryReported,
    encode_command,
    encode_event,
)
from contracts.events import Event
from streams.processors.records import SourceRecord
from tests.support.factories import PICKUP


def record(event: Event | bytes, topic: str = "telemetry", offset: int = 0) -> SourceRecord:
    """An event (or raw bytes) as a record of `topic`."""
    value = event if isinstance(event, bytes) else encode_event(event)
    return SourceRecord(topic, 0, offset, b"k", value)


def command_record(command: AnyCommand) -> SourceRecord:
    """A command for delivery d1, as a record of `delivery-commands`."""
    return SourceRecord("delivery-commands", 0, 0, b"d1", encode_command(command))


def milestone(drone_id: str, kind: str, at: datetime, battery: float = 90.0) -> DroneMilestone:
    """A drone's fleet milestone (returned, charged, battery_low, aborted) at the pickup."""
    return DroneMilestone(
        event_id=f"m-{drone_id}-{kind}",
        sequence=1,
        occurred_at=at,
        recorded_at=at,
        drone_id=drone_id,
        kind=kind,  # type: ignore[arg-type]
        lat=PICKUP.lat,
        lon=PICKUP.lon,
        battery_pct=battery,
    )


def fleet_heard(*fixes: TelemetryReported, at: datetime | None = None) -> SourceRecord:
    """What a gate batch tells dispatch of `fixes`, as a record of the dispatch topic."""
    now = at or max(f.occurred_at for f in fixes)
    drones = tuple(
        DroneHeard(
            drone_id=f.drone_id,
            occurred_at=f.occurred_at,
            lat=f.lat,
            lon=f.lon,
            battery_pct=f.battery_pct,
            phase=f.phase,
            delivery_id=f.delivery_id,
        )
        for f in fixes
    )
    told = FleetHeard(
        event_id="heard", sequence=1, occurred_at=now, recorded_at=now, gate="g", drones=drones
    )
    return record(told, "dispatch")
