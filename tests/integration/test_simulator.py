"""The simulator's Kafka adapter on the real broker, in-process.

A `SimulatorRunner` flies a small fleet on this module's own topics. The test plays
the delivery aggregate: it writes `DroneAssigned` (and `DeliveryCancelled`) to the
deliveries topic and reads what the drones send back: telemetry and fleet milestones
keyed by drone id, and the ReportPickup / ReportDropoff / ReportAbort / RefuseAssignment
commands on delivery-commands. In load mode the demand goes straight to Kafka.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer

from contracts import (
    DeliveryCancelled,
    DeliveryRequested,
    DroneAssigned,
    DroneMilestone,
    GeoPoint,
    RefuseAssignment,
    ReportAbort,
    ReportDropoff,
    ReportPickup,
    TelemetryReported,
    Topics,
    decode_command,
    new_event_id,
    utc_now,
)
from contracts.codec import decode_as
from devstack.settings import StackSettings
from simulator.world.demand import PoissonDemand
from tests.support.kafka_helpers import collect, produce, wait_for
from tests.support.simulator_runner import (
    DEPOT,
    ZURICH,
    Records,
    fixes_of,
    fleet_events_of,
    flying,
    near,
    seen,
)


def assignment(
    delivery_id: str, drone_id: str, pickup: GeoPoint, dropoff: GeoPoint
) -> DroneAssigned:
    now = utc_now()
    return DroneAssigned(
        event_id=new_event_id(),
        sequence=2,
        occurred_at=now,
        recorded_at=now,
        delivery_id=delivery_id,
        drone_id=drone_id,
        pickup=pickup,
        dropoff=dropoff,
    )


def back_home(drone_id: str) -> Callable[[Records], bool]:
    """An idle fix after a returning one: the drone has landed at a depot."""

    def done(records: Records) -> bool:
        phases = [f.phase for f in fixes_of(records, drone_id)]
        return "returning" in phases and "idle" in phases[phases.index("returning") :]

    return done


async def read_to_end(bootstrap: str, topic: str) -> Records:
    """Everything the topic holds right now."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    try:
        await wait_for(lambda: bool(consumer.assignment()), 10, "the partitions")
        ends = await consumer.end_offsets(list(consumer.assignment()))
        records: Records = []
        while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                records.extend(batch)
        return records
    finally:
        await consumer.stop()


async def test_a_drone_flies_its_assignment_and_reports_pickup_then_dropoff(
    running_stack: StackSettings, topics: Topics
) -> None:
    bootstrap = running_stack.kafka_bootstrap
    pickup, dropoff = near(DEPOT, 150, 50), near(DEPOT, 250, 150)
    async with flying(running_stack, topics, "fly-") as runner:
        await produce(
            bootstrap, topics.deliveries.name, [assignment("job-1", "fly-00000", pickup, dropoff)]
        )

        def both_reports(records: Records) -> bool:
            return len([r for r in records if r.key == b"job-1"]) >= 2

        commands = await collect(bootstrap, topics.delivery_commands.name, both_reports, 60)
        await collect(
            bootstrap,
            topics.telemetry.name,
            back_home("fly-00000"),
            30,
        )
    assert runner.stats.assignments == 1 and runner.stats.send_errors == 0

    reported_pickup, reported_dropoff = (
        decode_command(r.value) for r in commands if r.key == b"job-1"
    )
    assert isinstance(reported_pickup, ReportPickup)
    assert isinstance(reported_dropoff, ReportDropoff)
    for report in (reported_pickup, reported_dropoff):
        assert (report.delivery_id, report.drone_id) == ("job-1", "fly-00000")
    assert reported_pickup.observed_at < reported_dropoff.observed_at

    telemetry = await read_to_end(bootstrap, topics.telemetry.name)
    fly = [r for r in telemetry if r.key is not None and r.key.startswith(b"fly-")]
    assert {r.key for r in fly} == {b"fly-00000", b"fly-00001"}, "keyed by drone id"
    for drone_id in ("fly-00000", "fly-00001"):
        fixes = fixes_of(fly, drone_id)
        assert all(f.drone_id == drone_id for f in fixes)
        sequences = [f.sequence for f in fixes]
        first = sequences[0]  # the run's start in ms: a restarted run numbers on
        assert first > 1_700_000_000_000, "numbered from the start time"
        assert sequences == list(range(first, first + len(sequences))), "increases by one"
    phases = [f.phase for f in fixes_of(fly, "fly-00000")]
    for phase in ("to_pickup", "at_pickup", "to_dropoff", "at_dropoff", "returning"):
        assert phase in phases
    on_job = {f.delivery_id for f in fixes_of(fly, "fly-00000") if f.phase == "to_dropoff"}
    assert on_job == {"job-1"}


async def test_a_cancel_before_pickup_sends_the_drone_home_without_a_report(
    running_stack: StackSettings, topics: Topics
) -> None:
    bootstrap = running_stack.kafka_bootstrap
    pickup, dropoff = near(DEPOT, 2_000, 1_000), near(DEPOT, 2_300, 1_200)
    async with flying(running_stack, topics, "cxl-") as runner:
        await produce(
            bootstrap, topics.deliveries.name, [assignment("job-2", "cxl-00000", pickup, dropoff)]
        )
        await collect(
            bootstrap,
            topics.telemetry.name,
            seen("cxl-00000", lambda f: f.phase == "to_pickup" and f.ground_speed_mps > 20),
            30,
        )
        now = utc_now()
        cancel = DeliveryCancelled(
            event_id=new_event_id(),
            sequence=3,
            occurred_at=now,
            recorded_at=now,
            delivery_id="job-2",
            requested_by="acme",
            reason="changed their mind",
            drone_id="cxl-00000",
        )
        await produce(bootstrap, topics.deliveries.name, [cancel])
        await collect(
            bootstrap,
            topics.telemetry.name,
            back_home("cxl-00000"),
            30,
        )
        await asyncio.sleep(3)  # the time the drone would have needed to reach the pickup
    assert runner.stats.cancellations == 1 and runner.stats.milestones_sent == 0

    fixes = fixes_of(await read_to_end(bootstrap, topics.telemetry.name), "cxl-00000")
    phases = [f.phase for f in fixes]
    assert "returning" in phases and "at_pickup" not in phases
    last = fixes[-1]
    assert (last.phase, last.delivery_id, last.altitude_m) == ("idle", None, 0.0)
    assert GeoPoint(last.lat, last.lon) == DEPOT, "back on its depot"
    commands = await read_to_end(bootstrap, topics.delivery_commands.name)
    assert not [r for r in commands if r.key == b"job-2"], "no ReportPickup after a cancel"


async def test_a_drone_refuses_what_it_cannot_fly_and_reports_an_abort(
    running_stack: StackSettings, topics: Topics
) -> None:
    bootstrap = running_stack.kafka_bootstrap
    pickup, dropoff = near(DEPOT, 2_000, 1_000), near(DEPOT, 2_300, 1_200)
    async with flying(running_stack, topics, "abt-") as runner:
        await produce(
            bootstrap, topics.deliveries.name, [assignment("job-3", "abt-00000", pickup, dropoff)]
        )
        await collect(
            bootstrap,
            topics.telemetry.name,
            seen("abt-00000", lambda f: f.phase == "to_pickup" and f.ground_speed_mps > 20),
            30,
        )
        busy = assignment("job-4", "abt-00000", pickup, dropoff)  # it is flying job-3
        await produce(bootstrap, topics.deliveries.name, [busy])

        def refused(records: Records) -> bool:
            return any(r.key == b"job-4" for r in records)

        await collect(bootstrap, topics.delivery_commands.name, refused, 30)
        assert runner.engine.abort("abt-00000", "no_fly_zone")

        def aborted(records: Records) -> bool:
            return any(r.key == b"job-3" for r in records)

        commands = await collect(bootstrap, topics.delivery_commands.name, aborted, 30)
        await collect(bootstrap, topics.telemetry.name, back_home("abt-00000"), 60)
    assert (runner.stats.refusals, runner.stats.aborts) == (1, 1)

    (refusal,) = [decode_command(r.value) for r in commands if r.key == b"job-4"]
    assert isinstance(refusal, RefuseAssignment)
    assert (refusal.drone_id, refusal.reason) == ("abt-00000", "busy")
    (abort,) = [decode_command(r.value) for r in commands if r.key == b"job-3"]
    assert isinstance(abort, ReportAbort)
    assert (abort.drone_id, abort.reason) == ("abt-00000", "no_fly_zone")
    fleet = fleet_events_of(await read_to_end(bootstrap, topics.telemetry.name), "abt-00000")
    kinds = [e.kind for e in fleet if isinstance(e, DroneMilestone)]
    assert kinds == ["aborted", "returned"]
    phases = [e.phase for e in fleet if isinstance(e, TelemetryReported)]
    assert "at_pickup" not in phases


async def test_load_mode_writes_requests_straight_to_kafka(
    running_stack: StackSettings, topics: Topics
) -> None:
    bootstrap = running_stack.kafka_bootstrap
    demand = PoissonDemand(ZURICH, 600.0, 2_000.0, seed=9)  # ten a second, on average
    async with flying(
        running_stack, topics, "dem-", demand, demand_via="kafka", demand_business_id="loadtest"
    ) as runner:

        def five(records: Records) -> bool:
            return sum(1 for r in records if r.key and r.key.startswith(b"sim-")) >= 5

        records = await collect(bootstrap, topics.deliveries.name, five, 30)
    mine = [r for r in records if r.key and r.key.startswith(b"sim-")]
    requests = [decode_as(r.value, DeliveryRequested) for r in mine]
    assert {e.business_id for e in requests} == {"loadtest"}
    assert [r.key for r in mine] == [e.delivery_id.encode() for e in requests], "keyed by id"
    assert runner.stats.requests_posted >= 5 and runner.stats.request_errors == 0
    same = PoissonDemand(ZURICH, 600.0, 2_000.0, seed=9)
    same.next_gap_s()
    first = same.next_request("loadtest", utc_now())
    # Partitions interleave on reading: find it by id, then compare what was drawn.
    (same_one,) = [e for e in requests if e.delivery_id == first.delivery_id]
    assert (same_one.pickup, same_one.dropoff) == (first.pickup, first.dropoff), "seeded"
