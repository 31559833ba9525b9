"""Routes around the zones (`contracts.airspace.RouteGraph`): clear, short, and the line
when nothing is in the way.

Checked against independent geometry: the simulator's shapely planner (the route the
drones fly) on the Zurich scenario, and shapely's own intersection test for clearance.
"""

from __future__ import annotations

import random

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, Polygon

from contracts import AirspaceRules, GeoPoint
from contracts import airspace as airspace_module
from contracts.airspace import distance_m, route_length_m
from simulator.world.scenario import _planner, default_scenario
from tests.support.airspaces import (
    EAST_OF_SQUARE,
    SQUARE,
    WEST_OF_SQUARE,
    square_rules,
    zurich_rules,
)

SQUARE_RULES = square_rules()
ZURICH_RULES = zurich_rules()
points = st.builds(
    GeoPoint,
    lat=st.floats(min_value=47.33, max_value=47.52),
    lon=st.floats(min_value=8.45, max_value=8.70),
)


def touches_a_zone(route: tuple[GeoPoint, ...], zones: list[Polygon]) -> bool:
    """Shapely's answer (lon, lat plane: the same straight edges as the zones')."""
    line = LineString([(p.lon, p.lat) for p in route])
    return any(line.intersects(zone) for zone in zones)


ZURICH_ZONES = [
    Polygon([(p.lon, p.lat) for p in zone.boundary]) for zone in ZURICH_RULES.airspace.zones
]


def test_the_line_when_no_zone_is_in_the_way() -> None:
    north = GeoPoint(47.39, 8.52), GeoPoint(47.39, 8.55)
    assert SQUARE_RULES.route(*north) == north
    assert SQUARE_RULES.route_m(*north) == distance_m(*north)


def test_a_route_round_the_square_bends_at_two_of_its_corners_padded() -> None:
    route = SQUARE_RULES.route(WEST_OF_SQUARE, EAST_OF_SQUARE)
    assert route[0] == WEST_OF_SQUARE and route[-1] == EAST_OF_SQUARE
    assert len(route) == 4
    corners = route[1:3]
    north = all(c.lat > 47.380 for c in corners)
    south = all(c.lat < 47.370 for c in corners)
    assert north or south
    square = Polygon([(p.lon, p.lat) for p in SQUARE.boundary])
    assert not touches_a_zone(route, [square])
    # Diagonally up to a corner 100 m out (half the square's 1.1 km side, and 650 m
    # across), along the side, and down again: 2.80 km against the line's 2.26 km.
    detour = SQUARE_RULES.route_m(WEST_OF_SQUARE, EAST_OF_SQUARE)
    assert 2_750 < detour < 2_850
    assert 2_250 < distance_m(WEST_OF_SQUARE, EAST_OF_SQUARE) < 2_270


@settings(max_examples=200, deadline=None)
@given(points, points)
def test_a_route_between_points_outside_the_zones_touches_none(a: GeoPoint, b: GeoPoint) -> None:
    if ZURICH_RULES.zone_at(a) is not None or ZURICH_RULES.zone_at(b) is not None:
        return
    if touches_a_zone((a, a), ZURICH_ZONES) or touches_a_zone((b, b), ZURICH_ZONES):
        return  # on a zone's edge: outside for the rules, touching for shapely
    route = ZURICH_RULES.route(a, b)
    assert route[0] == a and route[-1] == b
    assert route_length_m(route) >= distance_m(a, b) - 1e-6
    if len(route) == 2:
        assert not touches_a_zone(route, ZURICH_ZONES)
    else:
        assert all(ZURICH_RULES.zone_at(corner) is None for corner in route[1:-1])
        # Padded by 100 m, so a route might graze a zone only inside a corner's chord.
        inner = [zone.buffer(-0.0002) for zone in ZURICH_ZONES]
        assert not touches_a_zone(route, inner)


def test_routes_agree_with_the_simulator_s_planner_within_half_a_percent() -> None:
    """The drones fly the simulator's route (shapely, its local frame): same zones, same
    100 m margin, so the lengths agree; 0.3 % measured on these pairs."""
    planner = _planner(default_scenario())
    rng = random.Random(17)
    detours = 0
    while detours < 40:
        a = GeoPoint(rng.uniform(47.33, 47.52), rng.uniform(8.45, 8.70))
        b = GeoPoint(rng.uniform(47.33, 47.52), rng.uniform(8.45, 8.70))
        flown = planner.route(a, b)
        if flown is None or len(flown) == 2:
            continue  # an end in a zone or its margin, or nothing in the way
        detours += 1
        ours = ZURICH_RULES.route_m(a, b)
        theirs = route_length_m(tuple(flown))
        assert abs(ours - theirs) / theirs < 0.005, (a, b, ours, theirs)


def test_the_nearest_depot_is_where_a_drone_goes_home() -> None:
    assert SQUARE_RULES.nearest_depot(EAST_OF_SQUARE) == GeoPoint(47.375, 8.560)
    assert SQUARE_RULES.nearest_depot(WEST_OF_SQUARE) == GeoPoint(47.375, 8.510)


def test_a_route_that_bends_is_planned_once_and_the_memory_is_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rules = square_rules()
    planned: list[object] = []
    plan = rules.routes._shortest

    def counted(*args: float) -> list[int] | None:
        planned.append(args)
        return plan(*args)

    monkeypatch.setattr(rules.routes, "_shortest", counted)
    monkeypatch.setattr(airspace_module, "DETOURS_KEPT", 2)
    first = rules.route(WEST_OF_SQUARE, EAST_OF_SQUARE)
    assert rules.route(WEST_OF_SQUARE, EAST_OF_SQUARE) is first and len(planned) == 1
    for lat in (47.3751, 47.3752):  # two more detours push the first one out
        rules.route(GeoPoint(lat, 8.520), EAST_OF_SQUARE)
    assert rules.route(WEST_OF_SQUARE, EAST_OF_SQUARE) == first and len(planned) == 4


def test_beyond_range_counts_the_mission_along_the_routes_not_the_lines() -> None:
    """West of the square to east of it: the line is in range, the route round it is not."""
    rules = square_rules()
    line = rules.straight_mission_m(WEST_OF_SQUARE, EAST_OF_SQUARE)
    routed = rules.mission_m(WEST_OF_SQUARE, EAST_OF_SQUARE)
    assert routed > line + 500.0  # round the square
    between = AirspaceRules(msgspec.structs.replace(rules.airspace, range_m=(line + routed) / 2))
    refused = between.refusal(WEST_OF_SQUARE, EAST_OF_SQUARE)
    assert refused is not None and refused[0] == "beyond_range"
    roomy = AirspaceRules(msgspec.structs.replace(rules.airspace, range_m=routed + 1.0))
    assert roomy.refusal(WEST_OF_SQUARE, EAST_OF_SQUARE) is None


@settings(max_examples=200, deadline=None)
@given(
    st.builds(GeoPoint, lat=st.floats(47.36, 47.39), lon=st.floats(8.50, 8.57)),
)
def test_the_nearest_depot_by_route_is_the_shortest_route_to_any_depot(point: GeoPoint) -> None:
    rules = square_rules()
    if rules.zone_at(point) is not None:
        return
    every = min(rules.route_m(depot.position, point) for depot in rules.airspace.depots)
    assert abs(rules.nearest_depot_route_m(point) - every) < 1e-6
