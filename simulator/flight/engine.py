"""The flight engine: a whole fleet stepped in time as numpy arrays. Sans-I/O.

`FleetEngine.step(now, dt)` advances every drone by `dt` seconds and returns what the
drones report of that step (`simulator.flight.reports`): the pickups and drop-offs
done (`PickupDone`, `DropoffDone`), the fleet milestones, then one `TelemetryReported`
per reporting drone (all, or one `cohort` of the fleet). `assign` gives an idle drone
a mission, or returns False when the drone is not ours, busy, cannot reach a point
(no-fly zone) or would land with less than its battery reserve. The engine has no
clock (it is given `now` and `dt`), no I/O and no randomness but one seeded numpy
generator, so the same seed, fleet and inputs always give the same reports.

Why arrays: the first engine moved one Python object per drone with a pyproj call
each; a load test of thousands of drones spent its time there. Here every quantity is
one array over the fleet and a step is a few dozen numpy operations whatever the size.

A mission is three legs (depot -> pickup -> drop-off -> nearest depot). Each leg:
vertical take-off to cruise altitude, cruise along the planned route (around the
no-fly zones) with acceleration and braking limits and the wind changing the ground
speed, a stop over the point, a vertical landing. At the pickup and the drop-off the
drone then dwells on the ground; it reports `PickupDone` or `DropoffDone` when the
dwell ends. The engine writes none of the delivery's events: only the aggregate
numbers those, from the drones' reports (`simulator.adapters.wire`).

Phases and stages: `phase` (one `int8` code per drone, `simulator.flight.phases`) is
the contracts' `DronePhase`, what telemetry reports; `stage` (GROUND, CLIMB, CRUISE,
DESCEND) is how the drone moves within the current leg, the engine's own.

`cancel(delivery_id)` makes a drone still on its way to the pickup (or waiting there)
abandon the mission and retrace its route to the depot it took off from. After its
pickup the engine ignores a cancel: the delivery aggregate refuses those.

Refusals and aborts. `try_assign` says why a drone will not take a mission (busy, a
point it may not reach, not enough battery to end with its reserve); the runner
reports that to the aggregate, which reschedules the delivery. A drone on a mission
aborts when its battery falls under the reserve before the drop-off (the estimate at
assignment bounds the worst wind, so in practice only a fault does this) or when told
to (`abort`, e.g. a no-fly zone closing on its way or an injected fault). Before the
pickup it retraces its way out to its depot; with the parcel on board it flies the
planned shortest way to the nearest depot (or, if none, retraces) and lands with it.

Fleet milestones (`DroneMilestone`) come out of `step` after the pickups and drop-offs:
`aborted` (with the delivery and the reason), `battery_low` (crossing
`spec.low_battery_pct`, once until the drone is charged again), `returned` (landed at
a depot after a mission) and `charged` (full again on the charger).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import numpy as np
import numpy.typing as npt

from contracts import AbortReason, DroneAssigned, DroneMilestone, GeoPoint, MilestoneKind
from simulator.flight.airspace import Airspace
from simulator.flight.battery import Segment, drain_per_s, mission_cost_pct
from simulator.flight.geo import FloatArray, LocalFrame, distance_m, local_offsets
from simulator.flight.kinematics import brake_speed, cruise_ground_speed
from simulator.flight.phases import (
    AT_DROPOFF,
    AT_PICKUP,
    IDLE,
    RETURNING,
    TO_DROPOFF,
    TO_PICKUP,
)
from simulator.flight.reports import (
    DroneReport,
    DropoffDone,
    PickupDone,
    SeededIds,
    drone_milestone,
    telemetry,
)
from simulator.flight.routing import RoutePlanner
from simulator.flight.spec import FlightSpec
from simulator.flight.wind import WindField, WindSpec

__all__ = ["EVERY_DRONE", "FleetEngine", "FlightSpec", "cohort"]

GROUND, CLIMB, CRUISE, DESCEND = range(4)
"""Stages of a leg, the engine's own codes in `stage`; `phase` says which leg (or stop)
the drone is on."""

IntArray = npt.NDArray[np.int64]

Refusal = Literal["unknown_drone", "already_flying", "busy", "unreachable", "insufficient_battery"]
"""Why `try_assign` turned a mission down. The first two are not the drone's to report:
another simulator flies that drone, or this is a redelivered assignment it is flying."""

RECHARGED_MARGIN_PCT = 10.0
"""A drone reports `battery_low` again only after charging this far above the mark."""

EVERY_DRONE = slice(None)
"""`step`'s default: the whole fleet reports."""


def cohort(index: int, cohorts: int) -> slice:
    """The drones of cohort `index` of `cohorts`: every `cohorts`-th drone from `index`.

    Interleaved rather than contiguous so that each cohort holds the same share of every
    depot and of the drones on a mission, whatever order the fleet was built in.
    """
    if not 0 <= index < cohorts:
        raise ValueError(f"cohort {index} is not one of 0..{cohorts - 1}")
    return slice(index, None, cohorts)


@dataclass(frozen=True, slots=True)
class _Pending:
    """A fleet milestone decided during physics, built into an event by `step`."""

    index: int
    kind: MilestoneKind
    delivery_id: str | None = None
    reason: AbortReason | None = None


@dataclass(frozen=True, slots=True)
class Mission:
    """An accepted assignment and the three routes planned for it."""

    assignment: DroneAssigned
    legs: tuple[list[GeoPoint], list[GeoPoint], list[GeoPoint]]


class FleetEngine:
    """A fleet of drones stepped in time (construct with `at_depots`)."""

    def __init__(
        self,
        drone_ids: list[str],
        positions: list[GeoPoint],
        depots: tuple[GeoPoint, ...],
        spec: FlightSpec,
        seed: int,
        airspace: Airspace | None = None,
        wind: WindSpec | None = None,
    ) -> None:
        if len(set(drone_ids)) != len(drone_ids):
            raise ValueError("drone ids must be unique")
        self.spec = spec
        self.seed = seed
        self.depots = depots
        self.drone_ids = tuple(drone_ids)
        self._index = {drone_id: i for i, drone_id in enumerate(drone_ids)}
        frame = airspace.frame if airspace is not None else LocalFrame(depots[0])
        self.airspace = airspace if airspace is not None else Airspace(frame)
        self.planner = RoutePlanner(self.airspace)
        for depot in depots:
            if not self.planner.reachable(depot):
                raise ValueError(f"depot {depot} is inside or too close to a no-fly zone")
        wind_rng, id_rng = np.random.default_rng(seed).spawn(2)
        self.wind_spec = wind or WindSpec()
        self.wind = WindField(self.wind_spec, wind_rng)
        self._ids = SeededIds(id_rng)
        self._elapsed_s = 0.0

        count = len(drone_ids)
        self.lat = np.array([p.lat for p in positions], dtype=np.float64)
        self.lon = np.array([p.lon for p in positions], dtype=np.float64)
        self.altitude_m = np.zeros(count)
        self.speed_mps = np.zeros(count)
        self.heading_deg = np.zeros(count)
        self.battery_pct = np.full(count, 100.0)
        self.phase = np.zeros(count, dtype=np.int8)
        self.stage = np.zeros(count, dtype=np.int8)
        self.dwell_left_s = np.zeros(count)
        self.carrying = np.zeros(count, dtype=bool)
        self.telemetry_sequence = np.zeros(count, dtype=np.int64)
        # The current leg's waypoints, padded to the longest route so far.
        self._wp_lat = np.zeros((count, 1))
        self._wp_lon = np.zeros((count, 1))
        self._wp_rest_m = np.zeros((count, 1))  # route length after each waypoint
        self._wp_index: IntArray = np.zeros(count, dtype=np.int64)
        self._wp_last: IntArray = np.zeros(count, dtype=np.int64)
        self._missions: dict[int, Mission] = {}
        self._delivery_ids: list[str | None] = [None] * count
        self._battery_low = np.zeros(count, dtype=bool)
        self._milestone_sequence = np.zeros(count, dtype=np.int64)
        self._pending: list[_Pending] = []

    @classmethod
    def at_depots(
        cls,
        count: int,
        depots: tuple[GeoPoint, ...],
        spec: FlightSpec,
        seed: int,
        id_prefix: str = "drone-",
        *,
        airspace: Airspace | None = None,
        wind: WindSpec | None = None,
    ) -> FleetEngine:
        """`count` idle drones spread round-robin over the depots, fully charged."""
        if not depots:
            raise ValueError("at least one depot is needed")
        ids = [f"{id_prefix}{index:05d}" for index in range(count)]
        positions = [depots[index % len(depots)] for index in range(count)]
        return cls(ids, positions, depots, spec, seed, airspace=airspace, wind=wind)

    @property
    def max_ground_speed_mps(self) -> float:
        """The fastest any drone can go over the ground: cruise plus the strongest tailwind."""
        return min(
            self.spec.cruise_speed_mps + self.wind_spec.max_speed_mps,
            self.spec.max_ground_speed_mps,
        )

    def in_flight(self) -> int:
        """How many drones are on a mission."""
        return len(self._missions)

    # -- missions ------------------------------------------------------------------------

    def assign(self, assignment: DroneAssigned) -> bool:
        """Take the mission if the drone is ours, idle, and can fly it with its reserve."""
        return self.try_assign(assignment) is None

    def try_assign(self, assignment: DroneAssigned) -> Refusal | None:
        """Take the mission (None), or say why not."""
        i = self._index.get(assignment.drone_id)
        if i is None:
            return "unknown_drone"
        flying = self._missions.get(i)
        if flying is not None and flying.assignment.delivery_id == assignment.delivery_id:
            return "already_flying"
        if self.phase[i] != IDLE or flying is not None:
            return "busy"
        here = GeoPoint(float(self.lat[i]), float(self.lon[i]))
        home = min(self.depots, key=lambda depot: distance_m(assignment.dropoff, depot))
        legs = (
            self.planner.route(here, assignment.pickup),
            self.planner.route(assignment.pickup, assignment.dropoff),
            self.planner.route(assignment.dropoff, home),
        )
        if legs[0] is None or legs[1] is None or legs[2] is None:
            return "unreachable"
        segments = (_segments(legs[0]), _segments(legs[1]), _segments(legs[2]))
        cost = mission_cost_pct(self.spec, segments, self.wind_spec)
        if self.battery_pct[i] - cost < self.spec.reserve_pct:
            return "insufficient_battery"
        self._missions[i] = Mission(assignment, (legs[0], legs[1], legs[2]))
        self._delivery_ids[i] = assignment.delivery_id
        self._start_leg(i, TO_PICKUP, legs[0])
        return None

    def abort(self, drone_id: str, reason: AbortReason) -> bool:
        """Give the drone's mission up and head home; False if it has none to give up.

        A drone whose delivery is done (returning after the drop-off) or that has no
        mission has nothing to abort. The `aborted` milestone comes out of the next step.
        """
        i = self._index.get(drone_id)
        if i is None or i not in self._missions or self._delivery_ids[i] is None:
            return False
        self._abort(i, reason)
        return True

    def _abort(self, i: int, reason: AbortReason) -> None:
        mission = self._missions[i]
        delivery_id = mission.assignment.delivery_id
        if self.phase[i] in (TO_PICKUP, AT_PICKUP):
            self._turn_back(i, mission.legs[0])
        else:
            self._delivery_ids[i] = None
            self._head_home_loaded(i, mission)
        self._pending.append(_Pending(i, "aborted", delivery_id, reason))

    def _head_home_loaded(self, i: int, mission: Mission) -> None:
        """With the parcel on board (to or at the drop-off): to the nearest depot."""
        here = GeoPoint(float(self.lat[i]), float(self.lon[i]))
        home = min(self.depots, key=lambda depot: distance_m(here, depot))
        route = self.planner.route(here, home)
        if route is None:  # retrace: back to the pickup, then the way out
            leg = mission.legs[1]
            route = [here, *leg[int(self._wp_index[i]) :: -1], *mission.legs[0][-2::-1]]
        self._load_waypoints(i, route[1:])
        if self.stage[i] in (GROUND, DESCEND):
            self.stage[i] = CLIMB  # up to cruise altitude again, then home
        if self.stage[i] == CLIMB and self.altitude_m[i] == 0.0:
            self.speed_mps[i] = 0.0
        self.phase[i] = RETURNING

    def cancel(self, delivery_id: str) -> bool:
        """Abandon the delivery if its drone has not picked it up; True if one turned back.

        The drone flies home along the way it came: the part of a shortest route already
        flown is itself a shortest, zone-free route, so no new planning is needed and
        the battery check made at assignment still covers the way back. A drone not yet
        off the ground stays idle where it is; one descending over the pickup climbs
        back to cruise first. A cancel that comes after the pickup, for another drone's
        delivery, or twice, changes nothing and returns False.
        """
        for i, mission in self._missions.items():
            if mission.assignment.delivery_id == delivery_id and self.phase[i] in (
                TO_PICKUP,
                AT_PICKUP,
            ):
                self._turn_back(i, mission.legs[0])
                return True
        return False

    def _turn_back(self, i: int, outbound: list[GeoPoint]) -> None:
        """Send drone `i`, on its way to (or at) the pickup, back to its depot by `outbound`."""
        self._delivery_ids[i] = None
        stage = self.stage[i]
        if self.phase[i] == AT_PICKUP:
            self._start_leg(i, RETURNING, outbound[::-1])
        elif stage == CLIMB and self._wp_index[i] == 0 and self.altitude_m[i] == 0.0:
            del self._missions[i]  # still on the depot's pad: nothing to undo
            self.phase[i], self.stage[i] = IDLE, GROUND
        elif stage == CLIMB and self._wp_index[i] == 0:
            self.phase[i], self.stage[i] = RETURNING, DESCEND  # straight down again
        else:
            # Cruising towards waypoint k (or over the pickup): the points already
            # passed, in reverse, end at the depot.
            self._load_waypoints(i, outbound[int(self._wp_index[i]) :: -1])
            self.phase[i] = RETURNING
            if stage == DESCEND:
                self.stage[i] = CLIMB

    def _start_leg(self, i: int, phase: int, route: list[GeoPoint]) -> None:
        """Put drone `i` on the ground at the start of `route`, about to take off."""
        self._load_waypoints(i, route[1:])
        self.phase[i] = phase
        self.stage[i] = CLIMB
        self.speed_mps[i] = 0.0

    def _load_waypoints(self, i: int, waypoints: list[GeoPoint]) -> None:
        """Make `waypoints` drone `i`'s route from where it is, starting with the first."""
        if len(waypoints) > self._wp_lat.shape[1]:
            pad = len(waypoints) - self._wp_lat.shape[1]
            self._wp_lat = np.pad(self._wp_lat, ((0, 0), (0, pad)))
            self._wp_lon = np.pad(self._wp_lon, ((0, 0), (0, pad)))
            self._wp_rest_m = np.pad(self._wp_rest_m, ((0, 0), (0, pad)))
        hops = [distance_m(a, b) for a, b in itertools.pairwise(waypoints)]
        rest = np.cumsum([0.0, *hops[::-1]])[::-1]
        count = len(waypoints)
        self._wp_lat[i, :count] = [p.lat for p in waypoints]
        self._wp_lon[i, :count] = [p.lon for p in waypoints]
        self._wp_rest_m[i, :count] = rest
        self._wp_index[i] = 0
        self._wp_last[i] = count - 1

    # -- stepping ------------------------------------------------------------------------

    def step(self, now: datetime, dt: float, reporting: slice = EVERY_DRONE) -> list[DroneReport]:
        """Advance every drone by `dt` seconds; return pickups, drop-offs, milestones, fixes.

        Only the drones in `reporting` send a fix this step (all by default): the runner
        spreads the fleet's fixes over the telemetry interval in cohorts (`cohort`).
        """
        dwelling = self._physics(dt)
        reports: list[DroneReport] = []
        reports.extend(self._dwell(dwelling, dt, now))
        reports.extend(self._fleet_milestones(now))
        reporters = self.drone_ids[reporting]
        sequence = self.telemetry_sequence[reporting]
        sequence += 1  # a view: the engine's own counters move
        reports.extend(
            telemetry(
                now,
                self._ids.take(len(reporters)),
                list(reporters),
                self._delivery_ids[reporting],
                sequence,
                self.lat[reporting],
                self.lon[reporting],
                self.altitude_m[reporting],
                self.speed_mps[reporting],
                self.heading_deg[reporting],
                self.battery_pct[reporting],
                self.phase[reporting],
            )
        )
        return reports

    def advance(self, dt: float) -> list[int]:
        """Step the physics only, building no reports: for benchmarks and bulk runs.

        Returns the indices of the drones whose dwell ended (a pickup or a drop-off), so
        a caller still sees them; fleet milestones are dropped. Do not mix with `step`
        on one engine if the fixes' sequence numbers matter: `advance` skips the
        telemetry sequence.
        """
        done = self._finish_dwells(self._physics(dt), dt)
        self._pending.clear()
        return done

    def _fleet_milestones(self, now: datetime) -> list[DroneMilestone]:
        """The fleet milestones noted since the last step, in the order they happened."""
        pending, self._pending = self._pending, []
        milestones: list[DroneMilestone] = []
        for item in pending:
            i = item.index
            self._milestone_sequence[i] += 1
            milestones.append(
                drone_milestone(
                    now,
                    self._ids.one(),
                    int(self._milestone_sequence[i]),
                    self.drone_ids[i],
                    item.kind,
                    float(self.lat[i]),
                    float(self.lon[i]),
                    float(self.battery_pct[i]),
                    delivery_id=item.delivery_id,
                    reason=item.reason,
                )
            )
        return milestones

    def _physics(self, dt: float) -> npt.NDArray[np.bool_]:
        """Move, climb, land and drain every drone; return who is dwelling at a stop.

        The stage masks are taken before anything moves, so each drone does one thing
        per step: a drone that reaches cruise altitude starts cruising next step, one
        that stops over its point starts descending next step.
        """
        if not dt > 0:
            raise ValueError(f"dt must be > 0, got {dt}")
        t = self._elapsed_s
        self._elapsed_s += dt
        stage, phase = self.stage, self.phase
        climbing = stage == CLIMB
        cruising = stage == CRUISE
        descending = stage == DESCEND
        on_ground = stage == GROUND
        dwelling: npt.NDArray[np.bool_] = on_ground & ((phase == AT_PICKUP) | (phase == AT_DROPOFF))
        charging = on_ground & (phase == IDLE)
        wind_east, wind_north = self._wind(t)
        before = self.battery_pct.copy()
        self._drain(dt, climbing, cruising, descending, dwelling, charging, wind_east, wind_north)
        self._watch_battery(before, charging)
        if cruising.any():
            self._cruise(np.flatnonzero(cruising), dt, wind_east, wind_north)
        if climbing.any():
            self._climb(climbing, dt)
        if descending.any():
            self._descend(descending, dt)
        return dwelling

    def _watch_battery(self, before: FloatArray, charging: npt.NDArray[np.bool_]) -> None:
        """Abort missions under the reserve; note battery-low and fully-charged drones."""
        spec, battery, phase = self.spec, self.battery_pct, self.phase
        # On a delivery: neither idle nor on the way home. Named codes, not a range of
        # them: their order is the contracts' (`DronePhase`), not the engine's.
        delivering = (phase != IDLE) & (phase != RETURNING)
        exhausted = delivering & (battery < spec.reserve_pct)
        for i in np.flatnonzero(exhausted).tolist():
            if self._delivery_ids[i] is not None:
                self._abort(i, "battery")
        newly_low = (battery < spec.low_battery_pct) & ~self._battery_low
        for i in np.flatnonzero(newly_low).tolist():
            self._pending.append(_Pending(i, "battery_low"))
        self._battery_low |= newly_low
        self._battery_low &= battery < spec.low_battery_pct + RECHARGED_MARGIN_PCT
        full = charging & (battery >= 100.0) & (before < 100.0)
        for i in np.flatnonzero(full).tolist():
            self._pending.append(_Pending(i, "charged"))

    def _wind(self, t: float) -> tuple[FloatArray, FloatArray]:
        x, y = self.airspace.frame.to_xy(self.lat, self.lon)
        return self.wind.sample(x, y, t)

    def _drain(
        self,
        dt: float,
        climbing: npt.NDArray[np.bool_],
        cruising: npt.NDArray[np.bool_],
        descending: npt.NDArray[np.bool_],
        landed_away: npt.NDArray[np.bool_],
        charging: npt.NDArray[np.bool_],
        wind_east: FloatArray,
        wind_north: FloatArray,
    ) -> None:
        rate = drain_per_s(
            self.spec,
            climbing=climbing,
            cruising=cruising,
            descending=descending,
            landed_away=landed_away,
            charging=charging,
            carrying=self.carrying,
            wind_mps=np.hypot(wind_east, wind_north),
        )
        np.clip(self.battery_pct - rate * dt, 0.0, 100.0, out=self.battery_pct)

    def _climb(self, climbing: npt.NDArray[np.bool_], dt: float) -> None:
        """Vertical take-off; at cruise altitude the drone starts cruising."""
        top = self.spec.cruise_altitude_m
        self.altitude_m[climbing] = np.minimum(
            self.altitude_m[climbing] + self.spec.climb_rate_mps * dt, top
        )
        self.stage[climbing & (self.altitude_m >= top)] = CRUISE

    def _descend(self, descending: npt.NDArray[np.bool_], dt: float) -> None:
        """Vertical landing over the leg's end; on the ground the next phase begins."""
        self.speed_mps[descending] = 0.0
        self.altitude_m[descending] = np.maximum(
            self.altitude_m[descending] - self.spec.descent_rate_mps * dt, 0.0
        )
        landed = descending & (self.altitude_m <= 0.0)
        if not landed.any():
            return
        self.stage[landed] = GROUND
        phase = self.phase
        at_pickup = landed & (phase == TO_PICKUP)
        at_dropoff = landed & (phase == TO_DROPOFF)
        home = landed & (phase == RETURNING)
        phase[at_pickup] = AT_PICKUP
        self.dwell_left_s[at_pickup] = self.spec.pickup_dwell_s
        phase[at_dropoff] = AT_DROPOFF
        self.dwell_left_s[at_dropoff] = self.spec.dropoff_dwell_s
        phase[home] = IDLE
        self.carrying[home] = False  # an aborted mission brings its parcel back
        for i in np.flatnonzero(home).tolist():
            del self._missions[i]
            self._pending.append(_Pending(i, "returned"))

    def _finish_dwells(self, dwelling: npt.NDArray[np.bool_], dt: float) -> list[int]:
        """Count the dwell down; start the next leg of those done. Returns their indices."""
        # A drone that aborted during this step's physics is no longer at its stop.
        dwelling = dwelling & ((self.phase == AT_PICKUP) | (self.phase == AT_DROPOFF))
        self.dwell_left_s[dwelling] -= dt
        done: list[int] = np.flatnonzero(dwelling & (self.dwell_left_s <= 0.0)).tolist()
        for i in done:
            mission = self._missions[i]
            if self.phase[i] == AT_PICKUP:
                self.carrying[i] = True
                self._start_leg(i, TO_DROPOFF, mission.legs[1])
            else:
                self.carrying[i] = False
                self._delivery_ids[i] = None
                self._start_leg(i, RETURNING, mission.legs[2])
        return done

    def _dwell(
        self, dwelling: npt.NDArray[np.bool_], dt: float, now: datetime
    ) -> list[PickupDone | DropoffDone]:
        """Finish the dwells that are over and report them, in drone order."""
        done: list[PickupDone | DropoffDone] = []
        for i in self._finish_dwells(dwelling, dt):
            mission = self._missions[i].assignment
            kind = PickupDone if self.phase[i] == TO_DROPOFF else DropoffDone
            done.append(
                kind(
                    report_id=self._ids.one(),
                    delivery_id=mission.delivery_id,
                    drone_id=mission.drone_id,
                    at=now,
                )
            )
        return done

    def _cruise(
        self, idx: IntArray, dt: float, wind_east: FloatArray, wind_north: FloatArray
    ) -> None:
        """Fly the cruising drones `idx` along their routes for `dt` seconds."""
        spec = self.spec
        lat, lon = self.lat[idx], self.lon[idx]
        k = self._wp_index[idx]
        last = self._wp_last[idx]
        to_lat, to_lon = self._wp_lat[idx, k], self._wp_lon[idx, k]
        east, north = local_offsets(lat, lon, to_lat, to_lon)
        gap = np.hypot(east, north)
        remaining = gap + self._wp_rest_m[idx, k]

        heading = np.radians(self.heading_deg[idx])
        safe_gap = np.where(gap > 0.0, gap, 1.0)
        ux = np.where(gap > 0.0, east / safe_gap, np.sin(heading))
        uy = np.where(gap > 0.0, north / safe_gap, np.cos(heading))
        wanted = np.minimum(
            cruise_ground_speed(spec, ux, uy, wind_east[idx], wind_north[idx]),
            brake_speed(remaining, spec.deceleration_mps2, dt),
        )
        before = self.speed_mps[idx]
        speed = np.clip(
            wanted,
            before - spec.deceleration_mps2 * dt,
            before + spec.acceleration_mps2 * dt,
        )
        speed = np.clip(speed, 0.0, self.max_ground_speed_mps)
        travel = speed * dt

        # Pass the intermediate waypoints this step reaches (rarely more than one).
        while True:
            passing = (travel >= gap) & (k < last)
            if not passing.any():
                break
            travel = np.where(passing, travel - gap, travel)
            lat = np.where(passing, to_lat, lat)
            lon = np.where(passing, to_lon, lon)
            k = np.where(passing, k + 1, k)
            to_lat, to_lon = self._wp_lat[idx, k], self._wp_lon[idx, k]
            east, north = local_offsets(lat, lon, to_lat, to_lon)
            gap = np.hypot(east, north)

        arrived = travel >= gap
        fraction = np.where(arrived, 1.0, travel / np.where(gap > 0.0, gap, 1.0))
        self.lat[idx] = np.where(arrived, to_lat, lat + (to_lat - lat) * fraction)
        self.lon[idx] = np.where(arrived, to_lon, lon + (to_lon - lon) * fraction)
        moving = gap > 0.0
        self.heading_deg[idx] = np.where(
            moving, np.degrees(np.arctan2(east, north)) % 360.0, self.heading_deg[idx]
        )
        self.speed_mps[idx] = speed
        self._wp_index[idx] = k
        self.stage[idx[arrived]] = DESCEND


def _segments(route: list[GeoPoint]) -> list[Segment]:
    """The route's straight pieces with their local directions (for the battery estimate)."""
    pieces = []
    for a, b in itertools.pairwise(route):
        east, north = local_offsets(
            np.array([a.lat]), np.array([a.lon]), np.array([b.lat]), np.array([b.lon])
        )
        norm = float(np.hypot(east[0], north[0])) or 1.0
        pieces.append(Segment(distance_m(a, b), float(east[0]) / norm, float(north[0]) / norm))
    return pieces
