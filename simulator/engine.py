"""The flight engine: drones flying missions in steps of simulated time. Sans-I/O.

`FleetEngine.step(now, dt)` advances every drone by `dt` seconds and returns the events
of that step: one `TelemetryReported` per drone and the milestones reached (`PickedUp`,
`Delivered`). `assign` gives a drone a mission. Event ids come from a seeded generator,
so the same seed, fleet and inputs always give the same events.

This first engine flies straight geodesic legs at cruise speed (depot -> pickup ->
drop-off -> depot) with a dwell at the pickup and at the drop-off; issue 3 adds
kinematics, wind, battery physics and no-fly zones.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from pyproj import Geod

from contracts import (
    Delivered,
    DroneAssigned,
    DronePhase,
    Event,
    GeoPoint,
    PickedUp,
    TelemetryReported,
)

WGS84 = Geod(ellps="WGS84")


@dataclass(frozen=True, slots=True)
class FlightSpec:
    """The drone model's performance."""

    cruise_speed_mps: float = 15.0
    cruise_altitude_m: float = 60.0
    pickup_dwell_s: float = 10.0
    dropoff_dwell_s: float = 10.0
    battery_pct_per_km: float = 2.0
    charge_pct_per_s: float = 0.5


@dataclass
class Drone:
    """One drone's mutable flight state (private to the engine)."""

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
class FleetEngine:
    """A fleet of drones stepped in time."""

    drones: dict[str, Drone]
    spec: FlightSpec = field(default_factory=FlightSpec)
    seed: int = 0

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    @classmethod
    def at_depots(
        cls,
        count: int,
        depots: tuple[GeoPoint, ...],
        spec: FlightSpec,
        seed: int,
        id_prefix: str = "drone-",
    ) -> FleetEngine:
        """`count` idle drones spread round-robin over the depots."""
        drones = {}
        for index in range(count):
            depot = depots[index % len(depots)]
            drone_id = f"{id_prefix}{index:05d}"
            drones[drone_id] = Drone(drone_id=drone_id, depot=depot, position=depot)
        return cls(drones=drones, spec=spec, seed=seed)

    def assign(self, assignment: DroneAssigned) -> bool:
        """Take the mission if the drone is ours and idle; False otherwise."""
        drone = self.drones.get(assignment.drone_id)
        if drone is None or drone.phase != "idle" or drone.mission is not None:
            return False
        drone.mission = assignment
        drone.delivery_sequence = assignment.sequence
        drone.phase = "to_pickup"
        return True

    def step(self, now: datetime, dt: float) -> list[Event]:
        """Advance every drone by `dt` seconds; return milestones, then telemetry."""
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
        """Move towards `target` at cruise speed; True when it is reached."""
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

    def in_flight(self) -> int:
        """How many drones are on a mission."""
        return sum(1 for d in self.drones.values() if d.mission is not None)
