"""Drone-steps per second of the flight engine, physics and events measured apart.

Why this exists: the simulator is the platform's load-test tool, so the engine must
step tens of thousands of drones per second on one core with time to spare for Kafka.
A drone-step is one drone advanced by one `dt`. Two costs are measured separately
because they differ by an order of magnitude:

- physics: `FleetEngine.advance(dt)`, the vectorized kinematics, wind, battery and
  dwell bookkeeping, building no events;
- events: building the step's `TelemetryReported` structs (one per drone) from the
  arrays, ids included (`simulator.flight.reports`), which `step` adds to the physics;
- step: `FleetEngine.step(now, dt)`, what the runner calls (physics + events).

The baseline is the first, per-drone engine (one Python object per drone, a pyproj
call per drone per step), copied below unchanged but for its name, measured the same
way: its physics alone (`_advance` for every drone) and its full `step`.

Every drone is on a mission (depot -> random pickup -> random drop-off -> depot in the
Zurich scenario, routed around its no-fly zones, 3 m/s wind with 2 m/s variation),
assigned before timing starts; the timed steps then cover take-off, cruise and landing.
Figures are the best of REPEATS runs of STEPS steps each, on one core (numpy's
elementwise operations are single-threaded; run it under `taskset -c 0` to be sure).

Run from the repository root: `taskset -c 0 python benchmarks/engine_bench.py`.
"""

from __future__ import annotations

import copy
import platform
import random
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from pyproj import Geod

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from contracts import (
    Delivered,
    DroneAssigned,
    DronePhase,
    Event,
    GeoPoint,
    PickedUp,
    TelemetryReported,
)
from simulator.flight.engine import FleetEngine, FlightSpec
from simulator.flight.reports import telemetry
from simulator.world.scenario import Scenario, default_scenario

REPEATS = 3
STEPS = 60
DT = 1.0
T0 = datetime(2026, 11, 27, 12, tzinfo=UTC)

# --- baseline: the first engine, per drone (copied from the engine @ 1st commit) ---

WGS84 = Geod(ellps="WGS84")


@dataclass(frozen=True, slots=True)
class BaselineSpec:
    cruise_speed_mps: float = 15.0
    cruise_altitude_m: float = 60.0
    pickup_dwell_s: float = 10.0
    dropoff_dwell_s: float = 10.0
    battery_pct_per_km: float = 2.0
    charge_pct_per_s: float = 0.5


@dataclass
class Drone:
    drone_id: str
    depot: GeoPoint
    position: GeoPoint
    phase: DronePhase = "idle"
    battery_pct: float = 100.0
    heading_deg: float = 0.0
    speed_mps: float = 0.0
    mission: DroneAssigned | None = None
    dwell_left_s: float = 0.0
    telemetry_sequence: int = 0
    delivery_sequence: int = 0


@dataclass
class BaselineEngine:
    drones: dict[str, Drone]
    spec: BaselineSpec = field(default_factory=BaselineSpec)
    seed: int = 0

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    @classmethod
    def at_depots(
        cls,
        count: int,
        depots: tuple[GeoPoint, ...],
        spec: BaselineSpec,
        seed: int,
        id_prefix: str = "drone-",
    ) -> BaselineEngine:
        drones = {}
        for index in range(count):
            depot = depots[index % len(depots)]
            drone_id = f"{id_prefix}{index:05d}"
            drones[drone_id] = Drone(drone_id=drone_id, depot=depot, position=depot)
        return cls(drones=drones, spec=spec, seed=seed)

    def assign(self, assignment: DroneAssigned) -> bool:
        drone = self.drones.get(assignment.drone_id)
        if drone is None or drone.phase != "idle" or drone.mission is not None:
            return False
        drone.mission = assignment
        drone.delivery_sequence = assignment.sequence
        drone.phase = "to_pickup"
        return True

    def step(self, now: datetime, dt: float) -> list[Event]:
        events: list[Event] = []
        for drone in self.drones.values():
            events.extend(self._advance(drone, now, dt))
        for drone in self.drones.values():
            events.append(self._telemetry(drone, now))
        return events

    def _advance(self, drone: Drone, now: datetime, dt: float) -> list[Event]:
        mission = drone.mission
        if drone.phase == "idle" or mission is None:
            drone.speed_mps = 0.0
            drone.battery_pct = min(100.0, drone.battery_pct + self.spec.charge_pct_per_s * dt)
            return []
        if drone.phase in ("at_pickup", "at_dropoff"):
            drone.speed_mps = 0.0
            drone.dwell_left_s -= dt
            if drone.dwell_left_s > 0:
                return []
            if drone.phase == "at_pickup":
                drone.phase = "to_dropoff"
                return [self._milestone(PickedUp, drone, mission, now)]
            drone.phase = "returning"
            delivered = self._milestone(Delivered, drone, mission, now)
            return [delivered]
        target = {
            "to_pickup": mission.pickup,
            "to_dropoff": mission.dropoff,
            "returning": drone.depot,
        }[drone.phase]
        arrived = self._fly(drone, target, dt)
        if not arrived:
            return []
        if drone.phase == "to_pickup":
            drone.phase, drone.dwell_left_s = "at_pickup", self.spec.pickup_dwell_s
        elif drone.phase == "to_dropoff":
            drone.phase, drone.dwell_left_s = "at_dropoff", self.spec.dropoff_dwell_s
        else:
            drone.phase, drone.mission = "idle", None
        return []

    def _fly(self, drone: Drone, target: GeoPoint, dt: float) -> bool:
        azimuth, _, distance = WGS84.inv(
            drone.position.lon, drone.position.lat, target.lon, target.lat
        )
        step = self.spec.cruise_speed_mps * dt
        drone.battery_pct = max(
            0.0, drone.battery_pct - min(step, distance) / 1000 * self.spec.battery_pct_per_km
        )
        if distance <= step:
            drone.position = target
            drone.speed_mps = distance / dt if dt > 0 else 0.0
            return True
        lon, lat, _ = WGS84.fwd(drone.position.lon, drone.position.lat, azimuth, step)
        drone.position = GeoPoint(float(lat), float(lon))
        drone.heading_deg = float(azimuth) % 360.0
        drone.speed_mps = self.spec.cruise_speed_mps
        return False

    def _milestone(
        self,
        kind: type[PickedUp] | type[Delivered],
        drone: Drone,
        mission: DroneAssigned,
        now: datetime,
    ) -> PickedUp | Delivered:
        drone.delivery_sequence += 1
        return kind(
            event_id=self._event_id(),
            sequence=drone.delivery_sequence,
            occurred_at=now,
            recorded_at=now,
            delivery_id=mission.delivery_id,
            drone_id=drone.drone_id,
        )

    def _telemetry(self, drone: Drone, now: datetime) -> TelemetryReported:
        drone.telemetry_sequence += 1
        flying = drone.phase not in ("idle",)
        on_mission = drone.mission is not None and drone.phase not in ("returning", "idle")
        return TelemetryReported(
            event_id=self._event_id(),
            sequence=drone.telemetry_sequence,
            occurred_at=now,
            recorded_at=now,
            drone_id=drone.drone_id,
            delivery_id=drone.mission.delivery_id if on_mission and drone.mission else None,
            lat=drone.position.lat,
            lon=drone.position.lon,
            altitude_m=self.spec.cruise_altitude_m if flying else 0.0,
            ground_speed_mps=drone.speed_mps,
            heading_deg=drone.heading_deg % 360.0,
            battery_pct=round(drone.battery_pct, 3),
            phase=drone.phase,
        )

    def _event_id(self) -> str:
        return uuid.UUID(int=self._rng.getrandbits(128), version=4).hex


# --- the measurement ---------------------------------------------------------------------


def missions(scenario: Scenario, drone_ids: tuple[str, ...], seed: int) -> list[DroneAssigned]:
    rng = random.Random(seed)
    return [
        DroneAssigned(
            event_id=f"a{index}",
            sequence=2,
            occurred_at=T0,
            recorded_at=T0,
            delivery_id=f"d{index}",
            drone_id=drone_id,
            pickup=scenario.random_point(rng),
            dropoff=scenario.random_point(rng),
        )
        for index, drone_id in enumerate(drone_ids)
    ]


_ENGINES: dict[int, FleetEngine] = {}


def new_engine(scenario: Scenario, count: int) -> FleetEngine:
    """A fresh copy of a fleet with every drone on a mission (planned once per size)."""
    if count not in _ENGINES:
        engine = FleetEngine.at_depots(
            count, scenario.depots, FlightSpec(), 1, airspace=scenario.airspace, wind=scenario.wind
        )
        for attempt in range(10):
            for assignment in missions(scenario, engine.drone_ids, 2 + attempt):
                engine.assign(assignment)  # a drone already flying refuses: that is fine
        assert engine.in_flight() == count
        _ENGINES[count] = engine
    return copy.deepcopy(_ENGINES[count])


def old_engine(scenario: Scenario, count: int) -> BaselineEngine:
    engine = BaselineEngine.at_depots(count, scenario.depots, BaselineSpec(), 1)
    for assignment in missions(scenario, tuple(engine.drones), 2):
        assert engine.assign(assignment)
    return engine


def best_rate(count: int, steps: int, prepare: Callable[[], Callable[[int], object]]) -> float:
    """Best drone-steps per second over REPEATS fresh runs of `steps` steps."""
    best = 0.0
    for _ in range(REPEATS):
        run = prepare()
        started = time.perf_counter()
        for tick in range(steps):
            run(tick)
        elapsed = time.perf_counter() - started
        best = max(best, count * steps / elapsed)
    return best


def measure(scenario: Scenario, count: int) -> dict[str, float]:
    def physics() -> Callable[[int], object]:
        engine = new_engine(scenario, count)
        return lambda _tick: engine.advance(DT)

    def events() -> Callable[[int], object]:
        engine = new_engine(scenario, count)
        ids = [f"{i:032x}" for i in range(count)]
        drone_ids = list(engine.drone_ids)
        deliveries: list[str | None] = [f"d{i}" for i in range(count)]

        def build(tick: int) -> object:
            return telemetry(
                T0 + timedelta(seconds=tick),
                ids,
                drone_ids,
                deliveries,
                engine.telemetry_sequence,
                engine.lat,
                engine.lon,
                engine.altitude_m,
                engine.speed_mps,
                engine.heading_deg,
                engine.battery_pct,
                engine.phase,
            )

        return build

    def full_step() -> Callable[[int], object]:
        engine = new_engine(scenario, count)
        return lambda tick: engine.step(T0 + timedelta(seconds=tick), DT)

    baseline_steps = max(2, STEPS * 1_000 // count // 4)

    def old_physics() -> Callable[[int], object]:
        engine = old_engine(scenario, count)
        now = T0

        def run(_tick: int) -> object:
            return [engine._advance(d, now, DT) for d in engine.drones.values()]

        return run

    def old_step() -> Callable[[int], object]:
        engine = old_engine(scenario, count)
        return lambda tick: engine.step(T0 + timedelta(seconds=tick), DT)

    return {
        "physics": best_rate(count, STEPS, physics),
        "events": best_rate(count, STEPS, events),
        "step": best_rate(count, STEPS, full_step),
        "old_physics": best_rate(count, baseline_steps, old_physics),
        "old_step": best_rate(count, baseline_steps, old_step),
    }


def assign_rate(scenario: Scenario, count: int) -> float:
    engine = FleetEngine.at_depots(
        count, scenario.depots, FlightSpec(), 1, airspace=scenario.airspace, wind=scenario.wind
    )
    batch = missions(scenario, engine.drone_ids, 3)
    started = time.perf_counter()
    for assignment in batch:
        engine.assign(assignment)
    return count / (time.perf_counter() - started)


def main() -> None:
    scenario = default_scenario()
    print(
        f"python {platform.python_version()}, numpy {np.__version__},"
        f" {platform.processor() or platform.machine()}"
    )
    print(f"{REPEATS} repeats of {STEPS} steps (dt={DT} s), best; drone-steps per second")
    header = "| drones | engine | physics only | events only | step (physics + events) |"
    print(header)
    print("|---:|---|---:|---:|---:|")
    for count in (1_000, 10_000):
        rates = measure(scenario, count)
        print(
            f"| {count:,} | vectorized | {rates['physics']:,.0f} | {rates['events']:,.0f}"
            f" | {rates['step']:,.0f} |"
        )
        print(
            f"| {count:,} | per-drone baseline | {rates['old_physics']:,.0f} | -"
            f" | {rates['old_step']:,.0f} |"
        )
        print(
            f"| {count:,} | ratio | {rates['physics'] / rates['old_physics']:.1f}x | -"
            f" | {rates['step'] / rates['old_step']:.1f}x |"
        )
    print(f"assignments (3 routes + battery check each): {assign_rate(scenario, 1_000):,.0f}/s")


if __name__ == "__main__":
    main()
