"""Cancelling before pickup: the drone turns back home, whatever it was doing.

A cancel is honoured while the drone flies to the pickup or waits there; after it
reports the pickup (`PickupDone`) it changes nothing (the delivery aggregate refuses such cancels).
A drone that turned back keeps every flight invariant and lands, idle, on the depot it
took off from, and never reports a pickup for the cancelled delivery.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts import GeoPoint, TelemetryReported
from simulator.flight.engine import CLIMB, CRUISE, DESCEND, FleetEngine
from simulator.flight.phases import AT_PICKUP, TO_PICKUP
from simulator.flight.reports import DroneReport, DropoffDone, PickupDone
from tests.support.factories import T0
from tests.support.flight import check_fixes, deliveries_done, fleet, order, points

FAR_PICKUP = GeoPoint(47.3950, 8.5600)  # a couple of km from the first depot
DROPOFF = GeoPoint(47.3990, 8.5650)


class Flight:
    """Steps an engine, keeping every report and the time."""

    def __init__(self, engine: FleetEngine, dt: float = 1.0) -> None:
        self.engine, self.dt, self.tick = engine, dt, 0
        self.reports: list[DroneReport] = []

    def step(self) -> None:
        now = T0 + timedelta(seconds=self.tick * self.dt)
        self.reports.extend(self.engine.step(now, self.dt))
        self.tick += 1

    def until(self, condition: Callable[[], bool], limit: int = 5_000) -> None:
        for _ in range(limit):
            if condition():
                return
            self.step()
        raise AssertionError("condition never reached")

    def home(self) -> None:
        self.until(lambda: self.engine.in_flight() == 0)

    def fixes(self, drone_id: str) -> list[TelemetryReported]:
        return [
            r for r in self.reports if isinstance(r, TelemetryReported) and r.drone_id == drone_id
        ]


def one_mission() -> tuple[FleetEngine, Flight]:
    engine = fleet(1, seed=11)
    assert engine.assign(order(0, "drone-00000", FAR_PICKUP, DROPOFF))
    return engine, Flight(engine)


STAGES: dict[str, Callable[[FleetEngine], bool]] = {
    "on the pad": lambda e: True,
    "climbing": lambda e: e.stage[0] == CLIMB and e.altitude_m[0] > 0,
    "cruising": lambda e: e.stage[0] == CRUISE and e.speed_mps[0] > 10,
    "descending over the pickup": lambda e: e.phase[0] == TO_PICKUP and e.stage[0] == DESCEND,
    "waiting at the pickup": lambda e: e.phase[0] == AT_PICKUP,
}


@pytest.mark.parametrize("stage", list(STAGES))
def test_a_cancel_before_pickup_sends_the_drone_home(stage: str) -> None:
    engine, flight = one_mission()
    depot = GeoPoint(float(engine.lat[0]), float(engine.lon[0]))
    flight.until(lambda: STAGES[stage](engine))
    cancelled_at = len(flight.fixes("drone-00000"))

    assert engine.cancel("d0")
    assert not engine.cancel("d0"), "a second cancel changes nothing"
    flight.home()

    assert not deliveries_done(flight.reports)
    check_fixes(engine, flight.reports, flight.dt, {"drone-00000"})
    after = flight.fixes("drone-00000")[cancelled_at:]
    assert all(f.delivery_id is None for f in after), "no longer flying the delivery"
    last = engine.step(T0 + timedelta(hours=1), 1.0)[-1]
    assert isinstance(last, TelemetryReported) and last.phase == "idle"
    assert GeoPoint(last.lat, last.lon) == depot and last.altitude_m == 0.0
    if stage == "cruising":
        assert {f.phase for f in after} >= {"returning"}


def test_a_cancel_after_pickup_is_ignored_and_the_delivery_completes() -> None:
    engine, flight = one_mission()
    flight.until(lambda: any(isinstance(r, PickupDone) for r in flight.reports))
    assert not engine.cancel("d0")
    flight.home()
    assert [type(r) for r in deliveries_done(flight.reports)] == [PickupDone, DropoffDone]


def test_a_cancel_for_no_drone_of_ours_is_ignored() -> None:
    engine, flight = one_mission()
    flight.step()
    assert not engine.cancel("someone-elses")
    assert engine.in_flight() == 1


def test_a_drone_home_from_a_cancel_takes_the_next_mission() -> None:
    engine, flight = one_mission()
    flight.until(lambda: engine.stage[0] == CRUISE)
    assert engine.cancel("d0")
    assert not engine.assign(order(1, "drone-00000", FAR_PICKUP, DROPOFF)), "busy going home"
    flight.home()
    assert engine.assign(order(1, "drone-00000", FAR_PICKUP, DROPOFF))
    flight.home()
    done = deliveries_done(flight.reports)
    assert [(type(m), m.delivery_id) for m in done] == [
        (PickupDone, "d1"),
        (DropoffDone, "d1"),
    ]


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    dt=st.sampled_from([0.5, 1.0, 2.0]),
    trips=st.lists(st.tuples(points, points), min_size=1, max_size=3),
    cancel_after_s=st.floats(0.0, 600.0),
    victim=st.integers(0, 2),
)
def test_cancels_at_any_time_keep_every_invariant(
    seed: int,
    dt: float,
    trips: list[tuple[GeoPoint, GeoPoint]],
    cancel_after_s: float,
    victim: int,
) -> None:
    engine = fleet(len(trips), seed)
    accepted = {
        engine.drone_ids[index]
        for index, (pickup, dropoff) in enumerate(trips)
        if engine.assign(order(index, engine.drone_ids[index], pickup, dropoff))
    }
    starts = {
        d: GeoPoint(float(engine.lat[i]), float(engine.lon[i]))
        for i, d in enumerate(engine.drone_ids)
    }
    victim %= len(trips)
    victim_drone, victim_delivery = engine.drone_ids[victim], f"d{victim}"
    flight = Flight(engine, dt)
    for _ in range(int(cancel_after_s / dt)):
        flight.step()
    picked = any(
        isinstance(r, PickupDone) and r.delivery_id == victim_delivery for r in flight.reports
    )

    turned_back = engine.cancel(victim_delivery)

    assert turned_back == (victim_drone in accepted and not picked)
    flight.home()
    check_fixes(engine, flight.reports, dt, accepted)
    for index, drone_id in enumerate(engine.drone_ids):
        if drone_id not in accepted:
            continue
        mine = [r for r in deliveries_done(flight.reports) if r.drone_id == drone_id]
        if drone_id == victim_drone and turned_back:
            assert mine == [], "no pickup after a cancel"
            last = flight.fixes(drone_id)[-1] if flight.fixes(drone_id) else None
            position = GeoPoint(float(engine.lat[index]), float(engine.lon[index]))
            assert last is None or last.delivery_id is None
            assert position == starts[drone_id], "home, where it took off"
            assert engine.altitude_m[index] == 0.0
        else:
            assert [type(m) for m in mine] == [PickupDone, DropoffDone]
