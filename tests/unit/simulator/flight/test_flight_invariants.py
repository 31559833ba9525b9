"""Invariants of the vectorized engine over random missions in the Zurich scenario.

Missions are drawn across a box that covers the city and both airport zones, so some
points are inside a zone (the drone must refuse), and many routes must bend around
one. Whatever is drawn: no fix inside a zone, battery in [0, 100] and above the
reserve for accepted missions, speeds, accelerations and climb rates within the spec,
no teleport, every accepted mission delivered and the drone idle at a depot.
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import timedelta

import msgspec
import numpy as np
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts import DroneAssigned, GeoPoint, TelemetryReported
from simulator.flight.reports import DropoffDone, PickupDone
from simulator.flight.wind import WindSpec
from streams.domain.geodesy import distance_m
from tests.support.factories import T0
from tests.support.flight import (
    SPEC,
    ZURICH,
    check_fixes,
    deliveries_done,
    fleet,
    fly_until_idle,
    order,
    points,
)


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    dt=st.sampled_from([0.5, 1.0, 2.0]),
    trips=st.lists(st.tuples(points, points), min_size=1, max_size=4),
)
def test_flights_keep_every_invariant(
    seed: int, dt: float, trips: list[tuple[GeoPoint, GeoPoint]]
) -> None:
    engine = fleet(len(trips), seed)
    accepted: dict[str, DroneAssigned] = {}
    for index, ((pickup, dropoff), drone_id) in enumerate(
        zip(trips, engine.drone_ids, strict=True)
    ):
        assignment = order(index, drone_id, pickup, dropoff)
        in_zone = ZURICH.airspace.zone_at(pickup) or ZURICH.airspace.zone_at(dropoff)
        took = engine.assign(assignment)
        if in_zone:
            assert not took, "a mission into a no-fly zone is refused"
        if took:
            accepted[drone_id] = assignment
    reports = fly_until_idle(engine, dt)
    previous = check_fixes(engine, reports, dt, set(accepted))

    for drone_id, assignment in accepted.items():
        mine = [r for r in deliveries_done(reports) if r.drone_id == drone_id]
        assert [(type(m), m.delivery_id) for m in mine] == [
            (PickupDone, assignment.delivery_id),
            (DropoffDone, assignment.delivery_id),
        ]
    for fix in previous.values():
        assert fix.phase == "idle" and fix.delivery_id is None and fix.altitude_m == 0.0
        assert GeoPoint(fix.lat, fix.lon) in ZURICH.depots, "back at a depot"


def test_a_route_across_a_zone_bends_around_it() -> None:
    # Schwamendingen depot -> north-east, past the north-west edge of Dubendorf's zone.
    engine = fleet(5, seed=3, wind=WindSpec())
    depot, pickup = ZURICH.depots[4], GeoPoint(47.4450, 8.6200)
    assert ZURICH.airspace.zone_at(pickup) is None
    frame = ZURICH.airspace.frame
    xs, ys = frame.to_xy(np.array([depot.lat, pickup.lat]), np.array([depot.lon, pickup.lon]))
    assert shapely.LineString(np.column_stack([xs, ys])).intersects(ZURICH.airspace.union)
    route = engine.planner.route(depot, pickup)
    assert route is not None and len(route) > 2

    assert engine.assign(order(0, "drone-00004", pickup, GeoPoint(47.4450, 8.6150)))
    reports = fly_until_idle(engine, 1.0)
    track = [e for e in reports if isinstance(e, TelemetryReported) and e.drone_id == "drone-00004"]
    assert not ZURICH.airspace.contains(
        np.array([f.lat for f in track]), np.array([f.lon for f in track])
    ).any()
    to_pickup = [f for f in track if f.phase == "to_pickup"]
    flown = sum(
        distance_m(GeoPoint(a.lat, a.lon), GeoPoint(b.lat, b.lon))
        for a, b in itertools.pairwise(to_pickup)
    )
    assert flown > distance_m(depot, pickup) + 1.0, "longer than the straight line"


def test_a_mission_beyond_the_battery_is_refused() -> None:
    engine = fleet(1, seed=1)
    far = GeoPoint(47.3769, 8.80)  # ~20 km east: out, then back, far beyond one charge
    assert not engine.assign(order(0, "drone-00000", far, GeoPoint(47.3769, 8.79)))
    assert engine.in_flight() == 0
    near = order(1, "drone-00000", GeoPoint(47.3800, 8.5420), GeoPoint(47.3840, 8.5460))
    assert engine.assign(near), "and the drone stays available"


def test_a_drone_charges_at_the_depot_and_refuses_until_charged() -> None:
    spec = replace(SPEC, charge_pct_per_s=0.05, reserve_pct=40.0)
    engine = fleet(1, seed=1, spec=spec, wind=WindSpec())
    trip = (GeoPoint(47.3550, 8.5000), GeoPoint(47.4000, 8.5000))
    assert engine.assign(order(0, "drone-00000", *trip))
    reports = fly_until_idle(engine, 1.0)
    landed = [e for e in reports if isinstance(e, TelemetryReported)][-1]
    assert landed.battery_pct < 100.0
    assert not engine.assign(order(1, "drone-00000", *trip)), "not enough left for it again"
    engine.step(T0 + timedelta(hours=3), 1_000.0)
    charged = engine.step(T0 + timedelta(hours=3, seconds=1), 1.0)[-1]
    assert isinstance(charged, TelemetryReported) and charged.battery_pct == 100.0
    assert engine.assign(order(2, "drone-00000", *trip))


def test_wind_changes_the_ground_speed_along_the_way() -> None:
    engine = fleet(1, seed=5, wind=ZURICH.wind)
    assert engine.assign(
        order(0, "drone-00000", GeoPoint(47.3500, 8.5000), GeoPoint(47.4000, 8.5600))
    )
    speeds = {
        round(e.ground_speed_mps, 1)
        for e in fly_until_idle(engine, 1.0)
        if isinstance(e, TelemetryReported) and e.altitude_m == SPEC.cruise_altitude_m
    }
    assert max(speeds) > SPEC.cruise_speed_mps + 1 and len(speeds) > 20


@settings(max_examples=10, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    trips=st.lists(st.tuples(points, points), min_size=1, max_size=3),
)
def test_same_seed_scenario_and_inputs_give_identical_reports(
    seed: int, trips: list[tuple[GeoPoint, GeoPoint]]
) -> None:
    def run() -> list[bytes]:
        engine = fleet(len(trips) + 1, seed)
        for index, (pickup, dropoff) in enumerate(trips):
            engine.assign(order(index, engine.drone_ids[index], pickup, dropoff))
        encoded: list[bytes] = []
        for tick in range(300):
            step = engine.step(T0 + timedelta(seconds=tick), 1.0)
            encoded += [msgspec.json.encode(report) for report in step]
        return encoded

    assert run() == run()
