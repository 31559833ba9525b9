"""Drones parked together are weighed as one position, and the choice stays the plain rule.

`_routed_choice` weighs each position once, its drones as one array (a depot holds
hundreds). Ties then matter most: every drone at a depot is as far as the others, so the
lowest index capable of the mission must win, as the plain rule's first-on-ties does.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts import GeoPoint
from streams.domain.drone_choice import Candidates, DroneSnapshot, choose_among
from tests.unit.streams.domain.test_drone_choice_routes import (
    POLICY,
    ZURICH,
    around_the_zones,
    plain_routed_choice,
)

pytestmark = pytest.mark.unit

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


@settings(max_examples=120, deadline=None)
@given(available=parked, pickup=around_the_zones, dropoff=around_the_zones, first=st.integers(1, 8))
def test_drones_parked_together_are_chosen_by_the_plain_routed_rule(
    available: list[DroneSnapshot], pickup: GeoPoint, dropoff: GeoPoint, first: int
) -> None:
    candidates = Candidates.of(available)
    allowed = np.ones(len(available), dtype=np.bool_)
    chosen = choose_among(
        candidates, allowed, pickup, dropoff, POLICY, nearest_first=first, airspace=ZURICH
    )
    expected = plain_routed_choice(available, pickup, dropoff, ZURICH)
    assert (None if chosen is None else candidates.drone_ids[chosen]) == expected


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
