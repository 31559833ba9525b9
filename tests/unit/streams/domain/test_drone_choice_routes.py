"""Choosing the drone along the routes around the zones (issue 19): the nearest by the
route it must fly, the mission budgeted home to the depot nearest the drop-off.

The plain rule below weighs every drone's route one at a time; the choice, with its
straight-line bounds and its nearest-first stage, must agree with it exactly.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts import AirspaceRules, GeoPoint
from streams.domain.drone_choice import (
    Candidates,
    DispatchPolicy,
    DroneSnapshot,
    Mission,
    choose_among,
    choose_drone,
    route_m,
)
from tests.support.airspaces import (
    EAST_OF_SQUARE,
    WEST_OF_SQUARE,
    square_rules,
    zurich_rules,
)

pytestmark = pytest.mark.unit

POLICY = DispatchPolicy()
SQUARE = square_rules()
ZURICH = zurich_rules()
around_the_zones = st.builds(
    GeoPoint,
    lat=st.floats(47.36, 47.52, allow_nan=False),
    lon=st.floats(8.50, 8.68, allow_nan=False),
).filter(lambda p: ZURICH.zone_at(p) is None)
drones = st.lists(
    st.builds(
        DroneSnapshot,
        drone_id=st.uuids().map(str),
        position=around_the_zones,
        battery_pct=st.floats(0, 100, allow_nan=False),
    ),
    max_size=25,
)
parked = st.lists(around_the_zones, min_size=1, max_size=4).flatmap(
    lambda depots: st.lists(
        st.builds(
            DroneSnapshot,
            drone_id=st.uuids().map(str),
            position=st.sampled_from(depots),
            battery_pct=st.integers(0, 100).map(float),
        ),
        max_size=60,
    )
)
"""Drones parked together, as the simulator lands them at a depot: ties everywhere, which
the choice (weighing a position once, its drones as one array) must break as the plain
rule does, for the first drone capable."""


def plain_routed_choice(
    available: list[DroneSnapshot], pickup: GeoPoint, dropoff: GeoPoint, rules: AirspaceRules
) -> str | None:
    """The rule, one drone at a time, along the routes: first on ties."""
    rest = route_m(rules, pickup, dropoff) + route_m(rules, dropoff, rules.nearest_depot(dropoff))
    best: tuple[float, str] | None = None
    for drone in available:
        to_pickup = route_m(rules, drone.position, pickup)
        flown = to_pickup + rest
        if drone.battery_pct - flown / 1000 * POLICY.battery_pct_per_km < POLICY.reserve_pct:
            continue
        if best is None or to_pickup < best[0]:
            best = (to_pickup, drone.drone_id)
    return best[1] if best else None


@settings(max_examples=160, deadline=None)
@given(
    available=st.one_of(drones, parked),
    pickup=around_the_zones,
    dropoff=around_the_zones,
    first=st.integers(1, 8),
)
def test_the_routed_choice_is_the_plain_routed_rule(
    available: list[DroneSnapshot], pickup: GeoPoint, dropoff: GeoPoint, first: int
) -> None:
    candidates = Candidates.of(available)
    allowed = np.ones(len(available), dtype=np.bool_)
    chosen = choose_among(
        candidates, allowed, pickup, dropoff, POLICY, nearest_first=first, airspace=ZURICH
    )
    expected = plain_routed_choice(available, pickup, dropoff, ZURICH)
    assert (None if chosen is None else candidates.drone_ids[chosen]) == expected


def test_a_drone_behind_a_zone_loses_to_one_farther_by_the_line() -> None:
    behind = DroneSnapshot("behind", WEST_OF_SQUARE, 100.0)  # 2.26 km by the line, 2.80 round
    farther = DroneSnapshot("farther", GeoPoint(47.375, 8.5815), 100.0)  # 2.37 km, clear
    pickup, dropoff = EAST_OF_SQUARE, GeoPoint(47.39, 8.555)
    assert choose_drone([behind, farther], pickup, dropoff, POLICY) == "behind"
    assert choose_drone([behind, farther], pickup, dropoff, POLICY, SQUARE) == "farther"


def test_the_trip_home_is_to_the_depot_nearest_the_drop_off() -> None:
    """A drone at its pickup 4 km from a drop-off beside the west depot.

    Without an airspace the trip home was counted back to the drone's own place (8 km in
    all); with one it is the depot nearest the drop-off, 100 m on (4 km in all). Battery
    for 5 km: enough for the mission as the drones fly it, not as it was counted.
    """
    pickup = GeoPoint(47.390, 8.560)
    dropoff = GeoPoint(47.3759, 8.510)  # 100 m north of the west depot
    assert 3_900 < route_m(SQUARE, pickup, dropoff) < 4_100
    drone = DroneSnapshot("d", pickup, POLICY.reserve_pct + 5 * POLICY.battery_pct_per_km)
    assert choose_drone([drone], pickup, dropoff, POLICY) is None
    assert choose_drone([drone], pickup, dropoff, POLICY, SQUARE) == "d"


def test_a_waiting_delivery_s_legs_are_routed_once_for_every_round() -> None:
    pickup, dropoff = EAST_OF_SQUARE, WEST_OF_SQUARE
    first = Mission.of(pickup, dropoff, SQUARE)
    assert Mission.of(pickup, dropoff, SQUARE) is first
    assert first.carry_m == route_m(SQUARE, pickup, dropoff)
    assert Mission.of(pickup, dropoff, square_rules()) is not first  # another version


def test_of_a_full_depot_the_first_drone_with_the_battery_is_chosen() -> None:
    depot = GeoPoint(47.3759, 8.5090)
    drones = [DroneSnapshot(f"d{n}", depot, 21.0) for n in range(300)]
    drones[137] = DroneSnapshot("charged", depot, 100.0)
    drones[201] = DroneSnapshot("also charged", depot, 100.0)
    candidates = Candidates.of(drones)
    pickup, dropoff = GeoPoint(47.39, 8.56), GeoPoint(47.40, 8.58)
    allowed = np.ones(len(drones), dtype=np.bool_)
    chosen = choose_among(candidates, allowed, pickup, dropoff, POLICY, airspace=ZURICH)
    assert chosen is not None and candidates.drone_ids[chosen] == "charged"
