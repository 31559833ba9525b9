"""A real stream worker on the real broker: dispatch, tracking and the dead-letter topic."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import timedelta

from aiokafka import AIOKafkaProducer
from aiokafka.structs import ConsumerRecord

from contracts import (
    DroneAssigned,
    GeoPoint,
    Topics,
    TrackingUpdated,
    decode_dead_letter,
    decode_event,
    encode_event,
    utc_now,
)
from devstack.services import RunningService
from devstack.settings import StackSettings
from kafkaio import BatchSender, WireRecord
from streams.ops.lag_report import group_lag
from tests.support.factories import PICKUP, fix, picked_up, requested
from tests.support.kafka_helpers import collect, produce
from tests.support.stream_worker import worker  # noqa: F401  (this module's worker)

Records = list[ConsumerRecord[bytes, bytes]]


async def send_all(bootstrap: str, records: list[WireRecord]) -> None:
    """Produce the records in per-partition batches, as the simulator does."""
    sender = BatchSender(
        lambda: AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    )
    async with sender:
        acks = await sender.send(records)
    assert not acks.failed, acks.failed


def events_of(records: Records, kind: type) -> list:  # type: ignore[type-arg]
    return [e for e in (decode_event(r.value) for r in records if r.value) if isinstance(e, kind)]


def test_request_is_dispatched_and_tracked(
    running_stack: StackSettings,
    topics: Topics,
    worker: RunningService,  # noqa: F811
) -> None:
    bootstrap = running_stack.kafka_bootstrap
    start = utc_now()
    idle = [
        fix("drone-x", seq, start + timedelta(milliseconds=200 * seq), PICKUP)
        for seq in range(1, 6)
    ]
    asyncio.run(produce(bootstrap, topics.telemetry.name, idle))
    asyncio.run(produce(bootstrap, topics.deliveries.name, [requested("job-1", at=start)]))

    def has_assignment(records: Records) -> bool:
        return any(e.delivery_id == "job-1" for e in events_of(records, DroneAssigned))

    records = asyncio.run(collect(bootstrap, topics.deliveries.name, has_assignment, timeout_s=90))
    (assignment,) = [e for e in events_of(records, DroneAssigned) if e.delivery_id == "job-1"]
    assert assignment.drone_id == "drone-x" and assignment.sequence == 2

    flying_from = utc_now()
    on_mission = [
        fix(
            "drone-x",
            seq,
            flying_from + timedelta(seconds=(seq - 5) / 2),
            GeoPoint(PICKUP.lat + 0.0001 * (seq - 5), PICKUP.lon),
            delivery_id="job-1",
            phase="to_pickup",
            speed=12.0,
        )
        for seq in range(6, 10)
    ]
    asyncio.run(produce(bootstrap, topics.telemetry.name, on_mission))

    def tracked(status: str) -> Callable[[Records], bool]:
        return lambda records: any(u.status == status for u in events_of(records, TrackingUpdated))

    asyncio.run(collect(bootstrap, topics.tracking.name, tracked("en_route_to_pickup"), 60))
    asyncio.run(produce(bootstrap, topics.deliveries.name, [picked_up("job-1", "drone-x")]))
    after_pickup = fix(
        "drone-x",
        10,
        flying_from + timedelta(seconds=2.5),
        GeoPoint(PICKUP.lat + 0.0006, PICKUP.lon),
        delivery_id="job-1",
        phase="to_dropoff",
        speed=12.0,
    )
    asyncio.run(produce(bootstrap, topics.telemetry.name, [after_pickup]))
    tracking = events_of(
        asyncio.run(collect(bootstrap, topics.tracking.name, tracked("en_route_to_dropoff"), 60)),
        TrackingUpdated,
    )
    assert {u.delivery_id for u in tracking} == {"job-1"}
    assert tracking[0].status == "en_route_to_pickup"
    assert all(u.eta is not None and u.eta > u.occurred_at for u in tracking)
    assert [u.sequence for u in tracking] == list(range(1, len(tracking) + 1))


def test_invalid_telemetry_lands_in_the_dead_letter_topic(
    running_stack: StackSettings,
    topics: Topics,
    worker: RunningService,  # noqa: F811
) -> None:
    bootstrap = running_stack.kafka_bootstrap
    now = utc_now()
    first = fix("drone-z", 1, now, PICKUP)
    poison: list[object] = [
        (b"drone-z", b"\x00\x01 not json"),
        fix("drone-z", 1, now, GeoPoint(0.0, 0.0)),
        fix("drone-z", 1, now + timedelta(minutes=10), PICKUP),
        first,
        first,  # the same fix again: a duplicate sequence
        fix("drone-z", 2, now + timedelta(seconds=1), GeoPoint(PICKUP.lat + 0.05, PICKUP.lon)),
    ]
    asyncio.run(produce(bootstrap, topics.telemetry.name, poison))  # type: ignore[arg-type]
    expected = {
        "undecodable",
        "null_island",
        "future_timestamp",
        "duplicate_sequence",
        "impossible_speed",
    }

    def all_reasons(records: Records) -> bool:
        return expected <= {decode_dead_letter(r.value).reason for r in records if r.value}

    letters = [
        decode_dead_letter(r.value)
        for r in asyncio.run(collect(bootstrap, topics.deadletter.name, all_reasons, timeout_s=60))
        if r.value
    ]
    assert {letter.reason for letter in letters} == expected, [
        (letter.reason, letter.detail, letter.processor) for letter in letters
    ]
    garbage = next(letter for letter in letters if letter.reason == "undecodable")
    assert garbage.original_value() == b"\x00\x01 not json"
    assert garbage.source_topic == topics.telemetry.name
    assert worker.alive(), "poison must not kill the worker"


def test_a_backlog_larger_than_the_workers_queues_is_routed_and_committed_to_the_end(
    running_stack: StackSettings,
    topics: Topics,
    worker: RunningService,  # noqa: F811
) -> None:
    """12,000 fixes at once: three times Faust's stream buffer (4,096 records).

    Regression: with the gate as a Faust agent, a backlog this size paused the telemetry
    partitions for good, or froze their committed offsets at the first commit while every
    fix had been routed (BENCHMARKS.md, "Stream throughput"). Both groups must commit
    every record, and every fix must reach `delivery-telemetry` exactly once in effect.
    """
    bootstrap = running_stack.kafka_bootstrap
    start = utc_now() - timedelta(minutes=5)
    backlog = [
        WireRecord(
            topics.telemetry.name,
            f"backlog-{d}".encode(),
            encode_event(
                fix(
                    f"backlog-{d}",
                    seq,
                    start + timedelta(seconds=seq),
                    PICKUP,
                    delivery_id=f"backlog-job-{d}",
                    phase="to_pickup",
                )
            ),
        )
        for seq in range(1, 201)
        for d in range(60)
    ]
    asyncio.run(send_all(bootstrap, backlog))
    group = f"{topics.prefix}dronefleet-streams"

    async def lag_of(name: str, topic: str) -> int:
        return sum(p.lag for p in await group_lag(bootstrap, name) if p.topic == topic)

    async def drained() -> bool:
        gate = await lag_of(f"{group}-gate", topics.telemetry.name)
        folded = await lag_of(f"{group}-deliveries", topics.delivery_telemetry.name)
        return gate == 0 and folded == 0

    async def wait_drained() -> None:
        deadline = time.monotonic() + 180
        while not await drained():
            assert time.monotonic() < deadline, "the workers' groups did not commit the backlog"
            await asyncio.sleep(1.0)

    asyncio.run(wait_drained())

    def all_routed(records: Records) -> bool:
        return (
            len({r.value for r in records if r.key and r.key.startswith(b"backlog-job-")}) >= 12_000
        )

    routed = asyncio.run(collect(bootstrap, topics.delivery_telemetry.name, all_routed, 60))
    mine = [r for r in routed if r.key and r.key.startswith(b"backlog-job-")]
    assert len({r.value for r in mine}) == 12_000
