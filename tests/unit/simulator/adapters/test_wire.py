"""The wire form of the engine's reports: who hears what, keyed by what.

A fix and a fleet milestone are events on the telemetry topic, keyed by drone id. A
pickup or a drop-off done is a report (a command) to the delivery aggregate, keyed by
delivery id, carrying the drone's report id as its command id and no sequence number
of the aggregate's. An abort is both: the fleet milestone, then a `ReportAbort`.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from contracts import (
    DroneMilestone,
    RefuseAssignment,
    ReportAbort,
    ReportDropoff,
    ReportPickup,
    TelemetryReported,
    Topics,
    decode_command,
    decode_event,
    encode_event,
)
from contracts.codec import decode_as
from simulator.adapters.wire import refusal, to_records, to_wire
from simulator.flight.reports import DropoffDone, PickupDone, drone_milestone
from tests.support.factories import T0, assigned, fix
from tests.support.flight import ZURICH, dropoff_done, fleet, fly, pickup_done

TOPICS = Topics.with_prefix("t-")


@pytest.mark.parametrize(
    ("done", "command_type"),
    [
        (pickup_done("job-7", "drone-3"), ReportPickup),
        (dropoff_done("job-7", "drone-3"), ReportDropoff),
    ],
    ids=["pickup", "dropoff"],
)
def test_a_pickup_or_dropoff_done_is_its_report_keyed_by_delivery(
    done: PickupDone | DropoffDone, command_type: type[ReportPickup | ReportDropoff]
) -> None:
    record = to_wire(done, TOPICS)
    assert (record.topic, record.key) == ("t-delivery-commands", b"job-7")
    command = decode_command(record.value)
    assert isinstance(command, command_type)
    assert (command.command_id, command.delivery_id, command.drone_id) == (
        done.report_id,
        "job-7",
        "drone-3",
    )
    assert command.observed_at == command.issued_at == done.at


def test_fixes_and_fleet_milestones_are_events_keyed_by_drone() -> None:
    charged = drone_milestone(T0, "e" * 32, 1, "drone-5", "charged", 47.37, 8.54, 100.0)
    records = to_records([fix("drone-5"), charged], TOPICS)
    assert [(r.topic, r.key) for r in records] == [(TOPICS.telemetry.name, b"drone-5")] * 2
    assert decode_as(records[0].value, TelemetryReported).drone_id == "drone-5"
    assert decode_event(records[1].value) == charged, "no report to an aggregate"


def test_an_abort_is_a_fleet_milestone_then_a_report_abort_keyed_by_delivery() -> None:
    aborted = drone_milestone(
        T0,
        "a" * 32,
        2,
        "drone-6",
        "aborted",
        47.37,
        8.54,
        30.0,
        delivery_id="job-9",
        reason="fault",
    )
    milestone, report = to_records([aborted], TOPICS)
    assert (milestone.topic, milestone.key) == (TOPICS.telemetry.name, b"drone-6")
    assert decode_as(milestone.value, DroneMilestone) == aborted
    assert (report.topic, report.key) == ("t-delivery-commands", b"job-9")
    command = decode_command(report.value)
    assert isinstance(command, ReportAbort)
    assert (command.command_id, command.drone_id, command.reason) == ("a" * 32, "drone-6", "fault")


def test_a_flown_mission_reports_pickup_then_dropoff_to_its_delivery_with_seeded_ids() -> None:
    def commands(seed: int) -> list[tuple[str, bytes | None, object]]:
        engine = fleet(1, seed=seed, wind=ZURICH.wind)
        assert engine.assign(assigned(drone_id="drone-00000"))
        records = to_records(fly(engine, 600), TOPICS)
        return [
            (r.topic, r.key, decode_command(r.value))
            for r in records
            if r.topic == TOPICS.delivery_commands.name
        ]

    flown = commands(1)
    assert [(key, type(command)) for _, key, command in flown] == [
        (b"d1", ReportPickup),
        (b"d1", ReportDropoff),
    ]
    assert commands(1) == flown, "the same seed reports with the same command ids"


def test_an_abort_becomes_a_report_to_the_aggregate_and_a_fleet_event() -> None:
    engine = fleet(1, seed=5, wind=ZURICH.wind)
    assert engine.assign(assigned(drone_id="drone-00000"))
    fly(engine, 10)
    engine.abort("drone-00000", "fault")
    records = to_records(engine.step(T0 + timedelta(seconds=10), 1.0), TOPICS)
    assert [r.topic for r in records] == ["t-telemetry", "t-delivery-commands", "t-telemetry"]
    report = decode_command(records[1].value)
    assert isinstance(report, ReportAbort) and records[1].key == b"d1"
    assert (report.drone_id, report.reason) == ("drone-00000", "fault")
    refused = refusal(assigned(drone_id="drone-00000"), "busy", T0, TOPICS)
    command = decode_command(refused.value)
    assert isinstance(command, RefuseAssignment) and command.reason == "busy"


def test_the_wire_form_is_what_the_runner_sends() -> None:
    record = to_wire(fix("drone-7"), TOPICS)
    assert record.topic == TOPICS.telemetry.name and record.key == b"drone-7"
    assert decode_as(record.value, TelemetryReported).drone_id == "drone-7"
    assert encode_event(decode_as(record.value, TelemetryReported)) == record.value
