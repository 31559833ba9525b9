"""A real stream worker routes around the published airspace (issue 19).

The airspace is published on its topic as the platform does; the worker's leader copies
it into the dispatch topic (where a rebuild reads it too), dispatch then weighs drones by
their routes, and the ETA counts the route's length, not the line's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

import msgspec
from aiokafka.structs import ConsumerRecord

from contracts import (
    AirspacePublished,
    DroneAssigned,
    FleetHeard,
    GeoPoint,
    Topics,
    TrackingUpdated,
    decode_event,
    utc_now,
)
from devstack.services import RunningService
from devstack.settings import StackSettings
from streams.domain.geodesy import distance_m, path_length_m
from tests.support.airspaces import EAST_OF_SQUARE, WEST_OF_SQUARE, airspace, square_rules
from tests.support.factories import fix, requested
from tests.support.kafka_helpers import collect, produce
from tests.support.stream_worker import worker  # noqa: F401  (this module's worker)

Records = list[ConsumerRecord[bytes, bytes]]
FARTHER_BUT_CLEAR = GeoPoint(47.375, 8.5815)
DROPOFF = WEST_OF_SQUARE
"""Back across the square from the pickup: the last leg bends round it."""


def events_of(records: Records, kind: type) -> list:  # type: ignore[type-arg]
    return [e for e in (decode_event(r.value) for r in records if r.value) if isinstance(e, kind)]


def test_dispatch_and_the_eta_follow_the_route_round_the_zone(
    running_stack: StackSettings,
    topics: Topics,
    worker: RunningService,  # noqa: F811
) -> None:
    bootstrap = running_stack.kafka_bootstrap
    asyncio.run(produce(bootstrap, topics.airspace.name, [airspace()]))

    def copied(records: Records) -> bool:
        return bool(events_of(records, AirspacePublished))

    asyncio.run(collect(bootstrap, topics.dispatch.name, copied, timeout_s=60))
    start = utc_now()
    drones = [
        fix(drone, seq, start + timedelta(milliseconds=200 * seq), where)
        for seq in range(1, 4)
        for drone, where in (("behind", WEST_OF_SQUARE), ("clear", FARTHER_BUT_CLEAR))
    ]
    asyncio.run(produce(bootstrap, topics.telemetry.name, drones))

    def both_heard(records: Records) -> bool:
        heard = {d.drone_id for told in events_of(records, FleetHeard) for d in told.drones}
        return {"behind", "clear"} <= heard

    # Dispatch proposes the first drone it hears of to a waiting delivery: both first.
    asyncio.run(collect(bootstrap, topics.dispatch.name, both_heard, timeout_s=60))
    request = msgspec.structs.replace(
        requested("job-r", at=start), pickup=EAST_OF_SQUARE, dropoff=DROPOFF
    )
    asyncio.run(produce(bootstrap, topics.deliveries.name, [request]))

    def has_assignment(records: Records) -> bool:
        return any(e.delivery_id == "job-r" for e in events_of(records, DroneAssigned))

    records = asyncio.run(collect(bootstrap, topics.deliveries.name, has_assignment, 90))
    (assignment,) = [e for e in events_of(records, DroneAssigned) if e.delivery_id == "job-r"]
    assert assignment.drone_id == "clear"  # the line says "behind": 2.26 km against 2.37

    # Its first fix on the mission: the ETA counts the last leg round the square.
    flying = fix(
        "clear",
        4,
        max(utc_now(), start + timedelta(seconds=1)),  # after its last fix, even if quick
        FARTHER_BUT_CLEAR,
        delivery_id="job-r",
        phase="to_pickup",
        speed=15.0,
    )
    asyncio.run(produce(bootstrap, topics.telemetry.name, [flying]))

    def tracked(records: Records) -> bool:
        return any(u.delivery_id == "job-r" for u in events_of(records, TrackingUpdated))

    updates: Callable[[Records], bool] = tracked
    (update,) = events_of(
        asyncio.run(collect(bootstrap, topics.tracking.name, updates, 60)), TrackingUpdated
    )
    assert update.status == "en_route_to_pickup"
    around = path_length_m(list(square_rules().route(EAST_OF_SQUARE, DROPOFF)))
    assert around - distance_m(EAST_OF_SQUARE, DROPOFF) > 400
    to_pickup = distance_m(FARTHER_BUT_CLEAR, EAST_OF_SQUARE)
    assert abs(update.remaining_m - (to_pickup + around)) < 1e-3
