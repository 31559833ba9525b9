"""What the simulator puts on the wire: each engine event as a (topic, key, value) record.

Telemetry is an event on the telemetry topic, keyed by drone id, and so are the drone's
fleet milestones (`DroneMilestone`: battery low, aborted, returned, charged), which stay
in order with its fixes and reach dispatch through the same gate. A delivery milestone
is a report (a command) to the delivery aggregate, keyed by delivery id: pickup,
drop-off, and an abort (`ReportAbort`, from the `aborted` fleet milestone, which thus
gives two records), or the refusal of an assignment (`RefuseAssignment`). The drone does
not write the delivery's events itself, only the aggregate does, so their sequence
numbers never collide with a cancellation or a reassignment. Kept apart from the runner
so that the chaos layer and the benchmarks work on the very records the runner sends.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from contracts import (
    Delivered,
    DroneAssigned,
    DroneMilestone,
    Event,
    PickedUp,
    RefusalReason,
    RefuseAssignment,
    ReportAbort,
    ReportDropoff,
    ReportPickup,
    Topics,
    encode_command,
    encode_event,
    new_event_id,
)
from kafkaio import WireRecord


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


def to_records(events: Iterable[Event], topics: Topics) -> list[WireRecord]:
    """The records of a step's events: one each, and a `ReportAbort` after an abort."""
    records: list[WireRecord] = []
    for event in events:
        records.append(to_wire(event, topics))
        if isinstance(event, DroneMilestone) and event.kind == "aborted":
            records.extend(_abort_report(event, topics))
    return records


def _abort_report(aborted: DroneMilestone, topics: Topics) -> list[WireRecord]:
    """The report of an abort to the aggregate of the delivery given up."""
    if aborted.delivery_id is None or aborted.reason is None:
        return []
    report = ReportAbort(
        command_id=aborted.event_id,
        delivery_id=aborted.delivery_id,
        issued_at=aborted.recorded_at,
        drone_id=aborted.drone_id,
        reason=aborted.reason,
        observed_at=aborted.occurred_at,
    )
    key = aborted.delivery_id.encode()
    return [WireRecord(topics.delivery_commands.name, key, encode_command(report))]


def refusal(
    assignment: DroneAssigned, reason: RefusalReason, now: datetime, topics: Topics
) -> WireRecord:
    """The drone's refusal of `assignment`, for the aggregate to reschedule the delivery."""
    command = RefuseAssignment(
        command_id=new_event_id(),
        delivery_id=assignment.delivery_id,
        issued_at=now,
        drone_id=assignment.drone_id,
        reason=reason,
        observed_at=now,
    )
    return WireRecord(
        topics.delivery_commands.name, assignment.delivery_id.encode(), encode_command(command)
    )
