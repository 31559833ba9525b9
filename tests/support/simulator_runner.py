"""Helpers for tests of the simulator's runner on the real broker: a small fast fleet
flying in-process, and what its drones put on the telemetry topic.

Shared by tests/integration/test_simulator.py and the tests that need drones flying
next to a real stream worker (tests/integration/test_abort_reschedule.py).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

from aiokafka.structs import ConsumerRecord

from contracts import DroneMilestone, GeoPoint, TelemetryReported, Topics, decode_event
from devstack.settings import StackSettings
from simulator.adapters.runner import RunStats, SimulatorRunner
from simulator.flight.engine import FleetEngine, FlightSpec
from simulator.settings import SimulatorSettings
from simulator.world.demand import PoissonDemand
from simulator.world.scenario import default_scenario

ZURICH = default_scenario()
DEPOT = ZURICH.depots[0]
FAST_SPEC = FlightSpec(
    cruise_speed_mps=40.0,
    cruise_altitude_m=20.0,
    climb_rate_mps=20.0,
    descent_rate_mps=20.0,
    acceleration_mps2=20.0,
    deceleration_mps2=20.0,
    pickup_dwell_s=0.5,
    dropoff_dwell_s=0.5,
)
"""Fast drones, so that a whole mission takes seconds of wall time."""

Records = list[ConsumerRecord[bytes, bytes]]


def near(point: GeoPoint, north_m: float, east_m: float) -> GeoPoint:
    """The point about `north_m` north and `east_m` east of `point` (at Zurich's latitude)."""
    return GeoPoint(point.lat + north_m / 111_320, point.lon + east_m / 75_000)


@contextlib.asynccontextmanager
async def flying(
    stack: StackSettings,
    topics: Topics,
    prefix: str,
    demand: PoissonDemand | None = None,
    depot: GeoPoint = DEPOT,
    **options: object,
) -> AsyncIterator[SimulatorRunner]:
    """A runner of two drones at 10 Hz at `depot`, ready to read the deliveries topic."""
    settings = SimulatorSettings(
        kafka_bootstrap=stack.kafka_bootstrap,
        topic_prefix=topics.prefix,
        drones=2,
        drone_id_prefix=prefix,
        telemetry_hz=10.0,
        **options,  # type: ignore[arg-type]
    )
    engine = FleetEngine.at_depots(2, (depot,), FAST_SPEC, seed=1, id_prefix=prefix)
    runner = SimulatorRunner(settings, engine, demand=demand)
    task: asyncio.Task[RunStats] = asyncio.create_task(runner.run())
    await asyncio.wait_for(runner.ready.wait(), timeout=30)
    try:
        yield runner
    finally:
        runner.stop()
        await asyncio.wait_for(task, timeout=30)


def fleet_events_of(records: Records, drone_id: str) -> list[TelemetryReported | DroneMilestone]:
    """The drone's fixes and fleet milestones, in order (they share its key)."""
    found = []
    for r in records:
        if r.key is not None and r.key.decode() == drone_id:
            event = decode_event(r.value)
            assert isinstance(event, TelemetryReported | DroneMilestone), event
            found.append(event)
    return found


def fixes_of(records: Records, drone_id: str) -> list[TelemetryReported]:
    """The drone's fixes, in order."""
    return [e for e in fleet_events_of(records, drone_id) if isinstance(e, TelemetryReported)]


def seen(
    drone_id: str, condition: Callable[[TelemetryReported], bool]
) -> Callable[[Records], bool]:
    """Whether some fix of the drone meets `condition` (a stop condition for `collect`)."""
    return lambda records: any(condition(f) for f in fixes_of(records, drone_id))
