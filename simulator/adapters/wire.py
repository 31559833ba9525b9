"""What the simulator puts on the wire: each engine report as a (topic, key, value) record.

The engine (`simulator.flight.reports`) reports what a drone knows; this module says
who must hear it. Telemetry is an event on the telemetry topic, keyed by drone id, and
so are the drone's fleet milestones (`DroneMilestone`: battery low, aborted, returned,
charged), which stay in order with its fixes and reach dispatch through the same gate.
What concerns a delivery is a report (a command) to the delivery aggregate, keyed by
delivery id: `PickupDone` becomes `ReportPickup`, `DropoffDone` becomes
`ReportDropoff`, and the `aborted` milestone becomes a `ReportAbort` as well (so an
abort gives two records); a refused assignment is a `RefuseAssignment`. The drone
writes none of the delivery's events, only the aggregate does, so their sequence
numbers never collide with a cancellation or a reassignment. Kept apart from the
runner so that the chaos layer and the benchmarks work on the very records the runner
sends.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from contracts import (
    Command,
    DroneAssigned,
    DroneMilestone,
    RefusalReason,
    RefuseAssignment,
    ReportAbort,
    ReportDropoff,
    ReportPickup,
    TelemetryReported,
    Topics,
    encode_command,
    encode_event,
    new_event_id,
)
from kafkaio import WireRecord
from simulator.flight.reports import DroneReport, DropoffDone, PickupDone


def to_wire(report: DroneReport, topics: Topics) -> WireRecord:
    """The record of one report: a fix or a fleet milestone, or a command to the aggregate."""
    match report:
        case PickupDone() | DropoffDone():
            kind = ReportPickup if isinstance(report, PickupDone) else ReportDropoff
            return _to_aggregate(
                kind(
                    command_id=report.report_id,
                    delivery_id=report.delivery_id,
                    issued_at=report.at,
                    drone_id=report.drone_id,
                    observed_at=report.at,
                ),
                topics,
            )
        case TelemetryReported() | DroneMilestone():
            key = report.drone_id.encode()
            return WireRecord(topics.telemetry.name, key, encode_event(report))


def to_records(reports: Iterable[DroneReport], topics: Topics) -> list[WireRecord]:
    """The records of a step's reports: one each, and a `ReportAbort` after an abort."""
    records: list[WireRecord] = []
    for report in reports:
        records.append(to_wire(report, topics))
        if isinstance(report, DroneMilestone) and report.kind == "aborted":
            records.extend(_abort_report(report, topics))
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
    return [_to_aggregate(report, topics)]


def _to_aggregate(command: Command, topics: Topics) -> WireRecord:
    """A command on its way to the delivery aggregate: keyed by delivery id."""
    key = command.delivery_id.encode()
    return WireRecord(topics.delivery_commands.name, key, encode_command(command))


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
    return _to_aggregate(command, topics)
