"""A drone that goes silent loses its delivery; one that reports again is proposed again.

The real broker, a real stream worker (a subprocess, as in production, with a short
liveness setting) and the simulator's runner in-process with two fast drones per test,
each test at a depot of its own (the drones of an earlier test are lost by then, and
far). A drone's radio dies (`SimulatorRunner.silenced`: it flies on, nothing it reports
is sent): before the pickup its delivery is rescheduled to the other drone within the
setting plus a few seconds and delivered; after the pickup it fails with `drone_lost`,
which the customer's tracking shows. The silent drone, reporting again, is found and
proposed again. A restarted simulator's drone, idle with no mission, has forgotten its
delivery: it is rescheduled at once.
"""

from __future__ import annotations

import socket
import time
import urllib.request
from collections.abc import Callable, Iterator

import pytest
from aiokafka.structs import ConsumerRecord

from contracts import (
    Delivered,
    DeliveryFailed,
    DeliveryRequested,
    DeliveryRescheduled,
    DroneAssigned,
    DroneFound,
    DroneLost,
    GeoPoint,
    PickedUp,
    Topics,
    TrackingUpdated,
    decode_event,
    new_event_id,
    utc_now,
)
from devstack.services import PlatformConfig, RunningService, start_service
from devstack.settings import StackSettings
from tests.support.kafka_helpers import collect, known_to_dispatch, produce
from tests.support.simulator_runner import ZURICH, flying, near, seen

Records = list[ConsumerRecord[bytes, bytes]]
SILENT_S = 6.0
"""The worker's `drone_silent_after_s` here (15 s by default)."""
SLACK_S = 6.0
"""A tick (1 s here), the aggregate, and the topics in between: "a few seconds"."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def metrics_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def liveness_worker(
    running_stack: StackSettings, topics: Topics, metrics_port: int
) -> Iterator[RunningService]:
    config = PlatformConfig(
        stack=running_stack,
        database="unused",
        topic_prefix=topics.prefix,
        streams_metrics_port=metrics_port,
    )
    service = start_service(
        "streams",
        ["streams", "worker"],
        config,
        running_stack.home / "test-logs" / topics.prefix,
        extra_env={
            "DRONEFLEET_STREAMS_DRONE_SILENT_AFTER_S": str(SILENT_S),
            "DRONEFLEET_STREAMS_FLEET_REFRESH_S": "2",
            "DRONEFLEET_STREAMS_LIVENESS_TICK_S": "1",
        },
    )
    yield service
    service.stop()
    assert service.process.returncode in (0, -15), "the worker did not stop cleanly"


def events_for(records: Records, key: str) -> list[object]:
    return [decode_event(r.value) for r in records if r.key == key.encode() and r.value]


def reached(delivery_id: str, kind: type) -> Callable[[Records], bool]:
    return lambda records: any(isinstance(e, kind) for e in events_for(records, delivery_id))


def dispatch_fact(kind: type, drone_id: str) -> Callable[[Records], bool]:
    def found(records: Records) -> bool:
        events = (decode_event(r.value) for r in records if r.value)
        return any(isinstance(e, kind) and e.drone_id == drone_id for e in events)

    return found


async def request(stack: StackSettings, topics: Topics, delivery_id: str, at: GeoPoint) -> None:
    now = utc_now()
    requested = DeliveryRequested(
        event_id=new_event_id(),
        sequence=1,
        occurred_at=now,
        recorded_at=now,
        delivery_id=delivery_id,
        business_id="acme",
        pickup=near(at, 800, 300),
        dropoff=near(at, 1_000, 500),
    )
    await produce(stack.kafka_bootstrap, topics.deliveries.name, [requested])


def scrape(port: int, decision: str) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        text = answer.read().decode()
    wanted = f'dronefleet_dispatch_liveness_total{{decision="{decision}"}} '
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(wanted))


async def test_a_drone_silent_before_the_pickup_loses_its_delivery_to_another(
    running_stack: StackSettings,
    topics: Topics,
    liveness_worker: RunningService,
    metrics_port: int,
) -> None:
    bootstrap = running_stack.kafka_bootstrap
    depot = ZURICH.depots[1]
    async with flying(running_stack, topics, "lb-", depot=depot) as runner:
        await known_to_dispatch(
            running_stack.kafka_bootstrap, topics.dispatch.name, {"lb-00000", "lb-00001"}
        )
        await request(running_stack, topics, "live-1", depot)
        first = await collect(bootstrap, topics.deliveries.name, reached("live-1", DroneAssigned))
        (given,) = [e for e in events_for(first, "live-1") if isinstance(e, DroneAssigned)]
        runner.silenced.add(given.drone_id)
        silenced_at = time.monotonic()
        await collect(bootstrap, topics.deliveries.name, reached("live-1", DeliveryRescheduled), 60)
        took = time.monotonic() - silenced_at
        history = events_for(
            await collect(bootstrap, topics.deliveries.name, reached("live-1", Delivered), 120),
            "live-1",
        )
        tracking = events_for(
            await collect(bootstrap, topics.tracking.name, reached("live-1", TrackingUpdated)),
            "live-1",
        )
        facts = await collect(
            bootstrap, topics.dispatch.name, dispatch_fact(DroneLost, given.drone_id), 30
        )

    assert took < SILENT_S + SLACK_S, f"rescheduled {took:.1f} s after the drone fell silent"
    kinds = [type(e).__name__ for e in history]
    assert kinds == [
        "DeliveryRequested",
        "DroneAssigned",
        "DeliveryRescheduled",
        "DroneAssigned",
        "PickedUp",
        "Delivered",
    ], kinds
    rescheduled, second = history[2], history[3]
    assert isinstance(rescheduled, DeliveryRescheduled)
    assert (rescheduled.drone_id, rescheduled.reason) == (given.drone_id, "drone_lost")
    assert isinstance(second, DroneAssigned) and second.drone_id != given.drone_id
    statuses = [u.status for u in tracking if isinstance(u, TrackingUpdated)]
    assert "rescheduled" in statuses, statuses
    (lost,) = [
        e
        for e in (decode_event(r.value) for r in facts if r.value)
        if isinstance(e, DroneLost) and e.drone_id == given.drone_id
    ]
    assert lost.delivery_id == "live-1"
    assert scrape(metrics_port, "drone_lost") >= 1
    assert scrape(metrics_port, "withdrawn_drone_lost") >= 1


async def test_a_drone_silent_with_the_parcel_fails_it_and_is_proposed_when_it_reports(
    running_stack: StackSettings,
    topics: Topics,
    liveness_worker: RunningService,
) -> None:
    bootstrap = running_stack.kafka_bootstrap
    depot = ZURICH.depots[2]
    async with flying(running_stack, topics, "la-", depot=depot) as runner:
        await known_to_dispatch(
            running_stack.kafka_bootstrap, topics.dispatch.name, {"la-00000", "la-00001"}
        )
        await request(running_stack, topics, "live-2", depot)
        picked = await collect(bootstrap, topics.deliveries.name, reached("live-2", PickedUp), 90)
        (pickup,) = [e for e in events_for(picked, "live-2") if isinstance(e, PickedUp)]
        lost_drone = pickup.drone_id
        other = ({"la-00000", "la-00001"} - {lost_drone}).pop()
        runner.silenced.add(lost_drone)
        silenced_at = time.monotonic()
        history = events_for(
            await collect(bootstrap, topics.deliveries.name, reached("live-2", DeliveryFailed), 60),
            "live-2",
        )
        took = time.monotonic() - silenced_at

        def told_failed(records: Records) -> bool:
            return any(
                isinstance(e, TrackingUpdated) and e.status == "failed"
                for e in events_for(records, "live-2")
            )

        await collect(bootstrap, topics.tracking.name, told_failed, 30)

        # Its radio back: it is found, and once home it is proposed again (the other
        # drone silenced in turn, so that only the found one can be chosen).
        runner.silenced.clear()
        await collect(bootstrap, topics.dispatch.name, dispatch_fact(DroneFound, lost_drone), 30)
        await collect(
            bootstrap,
            topics.telemetry.name,
            seen(lost_drone, lambda f: f.phase == "idle" and f.delivery_id is None),
            120,
        )
        runner.silenced.add(other)
        await collect(bootstrap, topics.dispatch.name, dispatch_fact(DroneLost, other), 30)
        await request(running_stack, topics, "live-3", depot)
        again = await collect(bootstrap, topics.deliveries.name, reached("live-3", DroneAssigned))

    assert took < SILENT_S + SLACK_S, f"failed {took:.1f} s after the drone fell silent"
    assert [type(e).__name__ for e in history] == [
        "DeliveryRequested",
        "DroneAssigned",
        "PickedUp",
        "DeliveryFailed",
    ]
    failed = history[-1]
    assert isinstance(failed, DeliveryFailed)
    assert (failed.drone_id, failed.reason) == (lost_drone, "drone_lost")
    (assigned,) = [e for e in events_for(again, "live-3") if isinstance(e, DroneAssigned)]
    assert assigned.drone_id == lost_drone


async def test_a_restarted_simulator_s_drone_forgot_its_mission_and_it_is_rescheduled(
    running_stack: StackSettings,
    topics: Topics,
    liveness_worker: RunningService,
) -> None:
    """The simulator is stopped and started again (the same drones, idle at the depot, no
    mission): the assigned drone's first idle fix says it forgot its delivery, which is
    rescheduled at once, long before the drone could count as silent, and flown by the
    other drone. Its new fixes are accepted at once (they are numbered on, not from 1)."""
    bootstrap = running_stack.kafka_bootstrap
    depot = ZURICH.depots[3]
    drones = {"lr-00000", "lr-00001"}
    async with flying(running_stack, topics, "lr-", depot=depot):
        await known_to_dispatch(bootstrap, topics.dispatch.name, drones)
        await request(running_stack, topics, "live-4", depot)
        first = await collect(bootstrap, topics.deliveries.name, reached("live-4", DroneAssigned))
        (given,) = [e for e in events_for(first, "live-4") if isinstance(e, DroneAssigned)]
        await collect(
            bootstrap,
            topics.telemetry.name,
            seen(given.drone_id, lambda f: f.delivery_id == "live-4"),
            30,
        )
    async with flying(running_stack, topics, "lr-", depot=depot):
        restarted_at = time.monotonic()
        await collect(bootstrap, topics.deliveries.name, reached("live-4", DeliveryRescheduled), 30)
        took = time.monotonic() - restarted_at
        history = events_for(
            await collect(bootstrap, topics.deliveries.name, reached("live-4", Delivered), 120),
            "live-4",
        )

    assert took < SILENT_S, f"rescheduled {took:.1f} s after the restart: not by silence"
    assert [type(e).__name__ for e in history] == [
        "DeliveryRequested",
        "DroneAssigned",
        "DeliveryRescheduled",
        "DroneAssigned",
        "PickedUp",
        "Delivered",
    ]
    rescheduled, second = history[2], history[3]
    assert isinstance(rescheduled, DeliveryRescheduled)
    assert (rescheduled.drone_id, rescheduled.reason) == (given.drone_id, "drone_lost")
    assert isinstance(second, DroneAssigned) and second.drone_id != given.drone_id
