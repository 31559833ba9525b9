"""The flight engine: missions complete, refusals and aborts with reasons, fleet milestones,
no teleports, determinism."""

from __future__ import annotations

from datetime import timedelta

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts import AbortReason, DroneMilestone, DronePhase, GeoPoint, TelemetryReported
from simulator.flight.engine import FleetEngine, cohort
from simulator.flight.phases import PHASE_CODE, PHASES
from simulator.flight.reports import DroneReport, DropoffDone, PickupDone
from streams.domain.geodesy import distance_m
from tests.support.factories import T0, assigned
from tests.support.flight import SPEC, ZURICH, check_fixes, deliveries_done, fly, order
from tests.support.flight import fleet as flight_fleet
from tests.support.flight import points as flight_points


def zurich_fleet(count: int, seed: int) -> FleetEngine:
    return FleetEngine.at_depots(
        count, ZURICH.depots, SPEC, seed=seed, airspace=ZURICH.airspace, wind=ZURICH.wind
    )


def test_a_mission_ends_delivered_and_back_at_the_depot() -> None:
    engine = zurich_fleet(1, seed=1)
    assert engine.assign(assigned(drone_id="drone-00000"))
    reports = fly(engine, 600)
    done = deliveries_done(reports)
    assert [type(m) for m in done] == [PickupDone, DropoffDone]
    assert [(m.delivery_id, m.drone_id) for m in done] == [("d1", "drone-00000")] * 2
    assert done[0].at < done[1].at
    last = [r for r in reports if isinstance(r, TelemetryReported)][-1]
    assert last.phase == "idle" and last.delivery_id is None
    assert (last.lat, last.lon) == (ZURICH.depots[0].lat, ZURICH.depots[0].lon)
    assert last.altitude_m == 0.0 and engine.in_flight() == 0


def test_a_busy_or_foreign_drone_refuses_a_mission() -> None:
    engine = zurich_fleet(1, seed=1)
    assert engine.assign(assigned(drone_id="drone-00000"))
    assert engine.in_flight() == 1
    assert not engine.assign(assigned(delivery_id="d2", drone_id="drone-00000"))
    assert not engine.assign(assigned(delivery_id="d3", drone_id="nobody"))


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32), dt=st.sampled_from([0.25, 0.5, 1.0, 2.0]))
def test_no_teleport_and_battery_in_range(seed: int, dt: float) -> None:
    engine = zurich_fleet(3, seed=seed)
    for index, drone_id in enumerate(engine.drone_ids):
        assert engine.assign(assigned(delivery_id=f"d{index}", drone_id=drone_id))
    previous: dict[str, TelemetryReported] = {}
    for event in fly(engine, 240, dt):
        if not isinstance(event, TelemetryReported):
            continue
        assert 0.0 <= event.battery_pct <= 100.0
        assert event.ground_speed_mps <= engine.max_ground_speed_mps + 1e-9
        before = previous.get(event.drone_id)
        if before is not None:
            moved = distance_m(GeoPoint(before.lat, before.lon), GeoPoint(event.lat, event.lon))
            assert moved <= engine.max_ground_speed_mps * dt + 0.01
            assert event.sequence == before.sequence + 1
        previous[event.drone_id] = event


def test_same_seed_same_reports() -> None:
    def run(seed: int) -> list[bytes]:
        engine = zurich_fleet(4, seed=seed)
        engine.assign(assigned(drone_id="drone-00001"))
        return [msgspec.json.encode(r) for r in fly(engine, 120)]

    assert run(7) == run(7)
    assert run(7) != run(8)


def test_cohorts_split_the_fleet_and_each_drone_reports_once_per_round() -> None:
    engine, lockstep = zurich_fleet(10, seed=3), zurich_fleet(10, seed=3)
    reporters: list[str] = []
    for index in range(3):
        reports = engine.step(T0, 1.0 / 3, cohort(index, 3))
        fixes = [r for r in reports if isinstance(r, TelemetryReported)]
        reporters += [f.drone_id for f in fixes]
        assert all(f.sequence == 1 for f in fixes)
    assert sorted(reporters) == sorted(lockstep.drone_ids), "every drone once, none twice"
    assert [len(engine.drone_ids[cohort(i, 3)]) for i in range(3)] == [4, 3, 3]
    fixes = [e for e in engine.step(T0, 1.0 / 3, cohort(0, 3)) if isinstance(e, TelemetryReported)]
    assert {f.sequence for f in fixes} == {2}, "a cohort's own counters move, no one else's"
    with pytest.raises(ValueError, match="cohort 3"):
        cohort(3, 3)


# -- refusals, aborts and fleet milestones ------------------------------------------------


def milestones_of(reports: list[DroneReport], kind: str) -> list[DroneMilestone]:
    return [r for r in reports if isinstance(r, DroneMilestone) and r.kind == kind]


def test_refusals_say_why() -> None:
    engine = zurich_fleet(2, seed=1)
    first = assigned(drone_id="drone-00000")
    assert engine.try_assign(first) is None
    assert engine.try_assign(first) == "already_flying"  # redelivered: not a refusal
    assert engine.try_assign(assigned(delivery_id="d2", drone_id="drone-00000")) == "busy"
    assert engine.try_assign(assigned(delivery_id="d3", drone_id="nobody")) == "unknown_drone"
    boundary = ZURICH.airspace.zones[0].boundary
    airport = GeoPoint(
        sum(p.lat for p in boundary) / len(boundary), sum(p.lon for p in boundary) / len(boundary)
    )
    into_zone = msgspec.structs.replace(
        assigned(delivery_id="d4", drone_id="drone-00001"), pickup=airport
    )
    assert engine.try_assign(into_zone) == "unreachable"
    far = GeoPoint(47.3769, 8.80)
    too_far = msgspec.structs.replace(
        assigned(delivery_id="d5", drone_id="drone-00001"), pickup=far, dropoff=far
    )
    assert engine.try_assign(too_far) == "insufficient_battery"
    assert engine.in_flight() == 1


def test_an_abort_before_pickup_turns_back_and_reports_the_reason() -> None:
    engine = zurich_fleet(1, seed=2)
    assert engine.assign(assigned(drone_id="drone-00000"))
    reports = fly(engine, 20)
    assert engine.abort("drone-00000", "no_fly_zone")
    assert not engine.abort("drone-00000", "fault"), "nothing left to abort"
    reports += fly(engine, 600)
    (aborted,) = milestones_of(reports, "aborted")
    assert (aborted.delivery_id, aborted.reason) == ("d1", "no_fly_zone")
    assert not deliveries_done(reports)
    (returned,) = milestones_of(reports, "returned")
    assert returned.delivery_id is None and engine.in_flight() == 0
    last = [e for e in reports if isinstance(e, TelemetryReported)][-1]
    assert last.phase == "idle" and GeoPoint(last.lat, last.lon) in ZURICH.depots


def test_an_abort_with_the_parcel_brings_it_to_the_nearest_depot() -> None:
    engine = zurich_fleet(1, seed=3)
    assert engine.assign(assigned(drone_id="drone-00000"))
    reports: list[DroneReport] = []
    for tick in range(600):
        reports += engine.step(T0 + timedelta(seconds=tick), 1.0)
        if any(isinstance(e, PickupDone) for e in reports):
            break
    reports += fly(engine, 3)
    assert engine.abort("drone-00000", "fault")
    reports += fly(engine, 900)
    (aborted,) = milestones_of(reports, "aborted")
    assert aborted.reason == "fault" and aborted.delivery_id == "d1"
    assert not [e for e in reports if isinstance(e, DropoffDone)]
    after = [e for e in reports if isinstance(e, TelemetryReported)][-1]
    assert after.phase == "idle" and GeoPoint(after.lat, after.lon) in ZURICH.depots
    assert not engine.carrying.any(), "the parcel is unloaded at the depot"


def test_a_battery_under_the_reserve_aborts_then_the_drone_reports_low_and_charged() -> None:
    engine = zurich_fleet(1, seed=4)
    assert engine.assign(assigned(drone_id="drone-00000"))
    reports = fly(engine, 15)
    engine.battery_pct[0] = SPEC.reserve_pct - 0.5  # a failing cell, as from a fault
    reports += fly(engine, 1_800)
    milestones = [e for e in reports if isinstance(e, DroneMilestone)]
    assert [m.kind for m in milestones] == ["aborted", "battery_low", "returned", "charged"]
    aborted, low, _, charged = milestones
    assert aborted.reason == "battery" and aborted.battery_pct < SPEC.reserve_pct
    assert low.battery_pct < SPEC.low_battery_pct and charged.battery_pct == 100.0
    sequences = [m.sequence for m in milestones]
    assert sequences == list(range(1, len(sequences) + 1)), "a milestone stream per drone"


@pytest.mark.parametrize("phase", [name for name in PHASES if name != "idle"])
def test_a_failing_cell_aborts_a_delivery_in_any_of_its_phases_never_on_the_way_home(
    phase: DronePhase,
) -> None:
    engine = zurich_fleet(1, seed=4)
    assert engine.assign(assigned(drone_id="drone-00000"))
    tick = 0
    while engine.phase[0] != PHASE_CODE[phase]:
        assert tick < 4_000, f"never {phase}"
        engine.step(T0 + timedelta(seconds=tick / 2), 0.5)
        tick += 1
    engine.battery_pct[0] = SPEC.reserve_pct - 0.5
    aborted = milestones_of(engine.step(T0 + timedelta(hours=1), 0.5), "aborted")
    assert [(m.delivery_id, m.reason) for m in aborted] == (
        [] if phase == "returning" else [("d1", "battery")]
    )


@settings(max_examples=20, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    trips=st.lists(
        st.tuples(
            flight_points,
            flight_points,
            st.none() | st.integers(0, 400),
            st.sampled_from(["battery", "no_fly_zone", "fault"]),
        ),
        min_size=1,
        max_size=3,
    ),
)
def test_every_accepted_mission_is_delivered_or_aborted_with_a_reason_and_ends_home(
    seed: int, trips: list[tuple[GeoPoint, GeoPoint, int | None, AbortReason]]
) -> None:
    engine = flight_fleet(len(trips), seed)
    accepted: dict[str, str] = {}
    aborts: dict[int, list[tuple[str, AbortReason]]] = {}
    for index, ((pickup, dropoff, when, reason), drone_id) in enumerate(
        zip(trips, engine.drone_ids, strict=True)
    ):
        if engine.assign(order(index, drone_id, pickup, dropoff)):
            accepted[drone_id] = f"d{index}"
            if when is not None:
                aborts.setdefault(when, []).append((drone_id, reason))
    reports: list[DroneReport] = []
    told: set[str] = set()
    for tick in range(7_200):
        for drone_id, reason in aborts.get(tick, []):
            if engine.abort(drone_id, reason):
                told.add(drone_id)
        reports += engine.step(T0 + timedelta(seconds=tick), 1.0)
        if tick > 400 and engine.in_flight() == 0:
            break
    assert engine.in_flight() == 0, "every mission ends within the time limit"
    check_fixes(engine, reports, 1.0, set(accepted) - told)
    for drone_id, delivery_id in accepted.items():
        mine = [
            e
            for e in reports
            if isinstance(e, PickupDone | DropoffDone | DroneMilestone)
            and e.drone_id == drone_id
            and e.delivery_id == delivery_id
        ]
        kinds = [m.kind if isinstance(m, DroneMilestone) else type(m).__name__ for m in mine]
        if drone_id in told:
            assert kinds in (["aborted"], ["PickupDone", "aborted"]), kinds
            assert mine[-1].reason is not None  # type: ignore[union-attr]
        else:
            assert kinds == ["PickupDone", "DropoffDone"], kinds
    last: dict[str, TelemetryReported] = {}
    for event in reports:
        if isinstance(event, TelemetryReported):
            last[event.drone_id] = event
    for fix in last.values():
        assert fix.phase == "idle" and fix.delivery_id is None and fix.altitude_m == 0.0
        assert GeoPoint(fix.lat, fix.lon) in ZURICH.depots, "back at a depot"
