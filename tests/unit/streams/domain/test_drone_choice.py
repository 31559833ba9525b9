"""Choosing the drone: the vectorized choice equals the plain rule it replaced."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts import GeoPoint
from streams.domain.drone_choice import DispatchPolicy, DroneSnapshot, choose_drone
from streams.domain.geodesy import distance_m

pytestmark = pytest.mark.unit

POLICY = DispatchPolicy()
PICKUP = GeoPoint(47.378, 8.540)

near_zurich = st.builds(
    GeoPoint,
    lat=st.floats(47.30, 47.45, allow_nan=False),
    lon=st.floats(8.45, 8.62, allow_nan=False),
)
drone = st.builds(
    DroneSnapshot,
    drone_id=st.uuids().map(str),
    position=near_zurich,
    battery_pct=st.floats(0, 100, allow_nan=False),
)
drones = st.lists(drone, max_size=40)


def plain_choice(available: list[DroneSnapshot], dropoff: GeoPoint) -> str | None:
    """The rule, one drone at a time: the nearest that keeps its reserve; first on ties."""
    best: tuple[float, str] | None = None
    for drone in available:
        to_pickup = distance_m(drone.position, PICKUP)
        flown = to_pickup + distance_m(PICKUP, dropoff) + distance_m(dropoff, drone.position)
        if drone.battery_pct - flown / 1000 * POLICY.battery_pct_per_km < POLICY.reserve_pct:
            continue
        if best is None or to_pickup < best[0]:
            best = (to_pickup, drone.drone_id)
    return best[1] if best else None


@settings(max_examples=200)
@given(available=drones, dropoff=near_zurich)
def test_the_vectorized_choice_is_the_plain_rule(
    available: list[DroneSnapshot], dropoff: GeoPoint
) -> None:
    assert choose_drone(available, PICKUP, dropoff, POLICY) == plain_choice(available, dropoff)


def test_two_drones_at_the_same_place_go_in_order() -> None:
    twins = [DroneSnapshot("a", PICKUP, 90.0), DroneSnapshot("b", PICKUP, 90.0)]
    assert choose_drone(twins, PICKUP, GeoPoint(47.38, 8.55), POLICY) == "a"


def test_the_fleet_index_keeps_one_slot_per_drone_as_it_grows() -> None:
    from dataclasses import dataclass

    from streams.processors.fleet_index import FleetIndex

    @dataclass(frozen=True)
    class Entry:
        drone_id: str
        lat: float
        lon: float
        battery_pct: float
        idle: bool

        def available(self) -> bool:
            return self.idle

    index = FleetIndex(Entry(f"d{i}", 47.0 + i / 1000, 8.5, 50.0, i % 2 == 0) for i in range(40))
    index.put(Entry("d3", 47.5, 8.6, 99.0, True))  # an update keeps its slot
    candidates = index.candidates()
    assert candidates.drone_ids[:4] == ["d0", "d1", "d2", "d3"]
    assert len(candidates.drone_ids) == 40 == candidates.lats.size
    assert (candidates.lats[3], candidates.battery_pct[3]) == (47.5, 99.0)
    free = index.available()
    assert free.sum() == 21 and bool(free[3])
    free[0] = False
    assert bool(index.available()[0]), "a round's mask is its own copy"


@settings(max_examples=200)
@given(available=st.lists(drone, max_size=120), dropoff=near_zurich)
def test_weighing_the_nearest_first_changes_no_choice(
    available: list[DroneSnapshot], dropoff: GeoPoint
) -> None:
    """With 4 drones weighed first, the answer is still the plain rule's over all."""
    import numpy as np

    from streams.domain.drone_choice import Candidates, choose_among

    candidates = Candidates.of(available)
    allowed = np.ones(len(available), dtype=np.bool_)
    chosen = choose_among(candidates, allowed, PICKUP, dropoff, POLICY, nearest_first=4)
    expected = plain_choice(available, dropoff)
    assert (None if chosen is None else candidates.drone_ids[chosen]) == expected


@settings(max_examples=100)
@given(
    parked=st.integers(0, 30),
    others=st.lists(drone, max_size=40),
    battery=st.floats(0, 100, allow_nan=False),
    dropoff=near_zurich,
)
def test_drones_parked_together_are_weighed_as_one_place(
    parked: int, others: list[DroneSnapshot], battery: float, dropoff: GeoPoint
) -> None:
    """Many drones at one depot: the nearest-first cut must not split them."""
    import numpy as np

    from streams.domain.drone_choice import Candidates, choose_among

    depot = GeoPoint(47.37, 8.53)
    available = [*others, *(DroneSnapshot(f"p{i}", depot, battery) for i in range(parked))]
    candidates = Candidates.of(available)
    allowed = np.ones(len(available), dtype=np.bool_)
    chosen = choose_among(candidates, allowed, PICKUP, dropoff, POLICY, nearest_first=4)
    expected = plain_choice(available, dropoff)
    assert (None if chosen is None else candidates.drone_ids[chosen]) == expected
