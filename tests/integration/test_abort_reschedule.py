"""A drone gives a delivery up, and the platform gets it delivered by another one.

The real broker, a real stream worker (a subprocess, as in production) and the
simulator's runner in-process with two drones on one depot. A delivery is requested;
dispatch gives it to one drone; on its way to the pickup that drone aborts (a no-fly
zone closed). Its ReportAbort reaches the aggregate, which reschedules the delivery;
dispatch proposes the other drone, which flies it to the end. The customer's tracking
shows it all: en route, rescheduled (no drone, no ETA), en route again, delivered.
"""

from __future__ import annotations

from collections.abc import Callable

from aiokafka.structs import ConsumerRecord

from contracts import (
    Delivered,
    DeliveryRequested,
    DeliveryRescheduled,
    DroneAssigned,
    Topics,
    TrackingUpdated,
    decode_event,
    new_event_id,
    utc_now,
)
from devstack.services import RunningService
from devstack.settings import StackSettings
from tests.support.kafka_helpers import collect, known_to_dispatch, produce
from tests.support.simulator_runner import DEPOT, flying, near, seen
from tests.support.stream_worker import worker  # noqa: F401  (this module's worker)

Records = list[ConsumerRecord[bytes, bytes]]


def events_for(records: Records, delivery_id: str) -> list[object]:
    return [decode_event(r.value) for r in records if r.key == delivery_id.encode() and r.value]


def delivery_reached(delivery_id: str, kind: type, count: int = 1) -> Callable[[Records], bool]:
    return lambda records: (
        sum(isinstance(e, kind) for e in events_for(records, delivery_id)) >= count
    )


async def test_an_aborted_delivery_is_rescheduled_reassigned_and_delivered(
    running_stack: StackSettings,
    topics: Topics,
    worker: RunningService,  # noqa: F811
) -> None:
    bootstrap = running_stack.kafka_bootstrap
    pickup, dropoff = near(DEPOT, 800, 300), near(DEPOT, 1_000, 500)
    async with flying(running_stack, topics, "rs-") as runner:
        # Dispatch must know both drones (their first fixes) before the request.
        await known_to_dispatch(bootstrap, topics.dispatch.name, {"rs-00000", "rs-00001"})
        now = utc_now()
        request = DeliveryRequested(
            event_id=new_event_id(),
            sequence=1,
            occurred_at=now,
            recorded_at=now,
            delivery_id="job-r",
            business_id="acme",
            pickup=pickup,
            dropoff=dropoff,
        )
        await produce(bootstrap, topics.deliveries.name, [request])
        first = await collect(
            bootstrap, topics.deliveries.name, delivery_reached("job-r", DroneAssigned), 90
        )
        (given,) = [e for e in events_for(first, "job-r") if isinstance(e, DroneAssigned)]
        await collect(
            bootstrap,
            topics.telemetry.name,
            seen(given.drone_id, lambda f: f.phase == "to_pickup" and f.ground_speed_mps > 20),
            30,
        )
        assert runner.engine.abort(given.drone_id, "no_fly_zone")
        history = events_for(
            await collect(
                bootstrap, topics.deliveries.name, delivery_reached("job-r", Delivered), 120
            ),
            "job-r",
        )

        def tracked_to_the_end(records: Records) -> bool:
            return any(
                isinstance(e, TrackingUpdated) and e.status == "delivered"
                for e in events_for(records, "job-r")
            )

        tracking = [
            e
            for e in events_for(
                await collect(bootstrap, topics.tracking.name, tracked_to_the_end, 30), "job-r"
            )
            if isinstance(e, TrackingUpdated)
        ]

    kinds = [type(e).__name__ for e in history]
    assert kinds == [
        "DeliveryRequested",
        "DroneAssigned",
        "DeliveryRescheduled",
        "DroneAssigned",
        "PickedUp",
        "Delivered",
    ], kinds
    rescheduled = history[2]
    assert isinstance(rescheduled, DeliveryRescheduled)
    assert (rescheduled.drone_id, rescheduled.reason) == (given.drone_id, "no_fly_zone")
    second = history[3]
    assert isinstance(second, DroneAssigned) and second.drone_id != given.drone_id
    assert [e.sequence for e in history] == list(range(1, 7))  # type: ignore[attr-defined]
    assert runner.stats.aborts == 1 and runner.stats.assignments == 2

    statuses = [u.status for u in tracking]
    assert "rescheduled" in statuses and statuses[-1] == "delivered"
    cut = statuses.index("rescheduled")
    assert "en_route_to_pickup" in statuses[:cut] and "en_route_to_pickup" in statuses[cut:]
    told = tracking[cut]
    assert (told.drone_id, told.eta) == (None, None), "no drone, no ETA while it waits"
    assert {u.drone_id for u in tracking[:cut]} == {given.drone_id}
    assert {u.drone_id for u in tracking[cut + 1 :]} == {second.drone_id}
    assert [u.sequence for u in tracking] == list(range(1, len(tracking) + 1))
