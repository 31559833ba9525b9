"""The flight engine: missions complete, refusals, no teleports, determinism."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from contracts import Delivered, Event, GeoPoint, PickedUp, TelemetryReported, encode_event
from simulator.engine import FleetEngine, FlightSpec
from simulator.scenario import default_scenario
from streams.geodesy import distance_m
from tests.factories import T0, assigned

SPEC = FlightSpec(cruise_speed_mps=20.0, pickup_dwell_s=3.0, dropoff_dwell_s=3.0)
ZURICH = default_scenario()


def zurich_fleet(count: int, seed: int) -> FleetEngine:
    return FleetEngine.at_depots(
        count, ZURICH.depots, SPEC, seed=seed, airspace=ZURICH.airspace, wind=ZURICH.wind
    )


def fly(engine: FleetEngine, seconds: int, dt: float = 1.0) -> list[Event]:
    events: list[Event] = []
    for tick in range(int(seconds / dt)):
        events.extend(engine.step(T0 + timedelta(seconds=tick * dt), dt))
    return events


def test_a_mission_ends_delivered_and_back_at_the_depot() -> None:
    engine = zurich_fleet(1, seed=1)
    assert engine.assign(assigned(drone_id="drone-00000"))
    events = fly(engine, 600)
    milestones = [e for e in events if isinstance(e, PickedUp | Delivered)]
    assert [type(m) for m in milestones] == [PickedUp, Delivered]
    assert [m.sequence for m in milestones] == [3, 4]
    last = [e for e in events if isinstance(e, TelemetryReported)][-1]
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


def test_same_seed_same_events() -> None:
    def run(seed: int) -> list[bytes]:
        engine = zurich_fleet(4, seed=seed)
        engine.assign(assigned(drone_id="drone-00001"))
        return [encode_event(e) for e in fly(engine, 120)]

    assert run(7) == run(7)
    assert run(7) != run(8)
