"""Routes around the no-fly zones: never across one, from the start to the goal."""

from __future__ import annotations

import numpy as np
import shapely
from hypothesis import given, settings

from contracts import GeoPoint
from simulator.flight.routing import RoutePlanner
from tests.support.flight import ZURICH, points

PLANNER = RoutePlanner(ZURICH.airspace)


@settings(max_examples=60, deadline=None)
@given(start=points, goal=points)
def test_routes_never_cross_a_zone(start: GeoPoint, goal: GeoPoint) -> None:
    planner = PLANNER
    route = planner.route(start, goal)
    if not (planner.reachable(start) and planner.reachable(goal)):
        assert route is None
        return
    assert route is not None and route[0] == start and route[-1] == goal
    frame = ZURICH.airspace.frame
    x, y = frame.to_xy(np.array([p.lat for p in route]), np.array([p.lon for p in route]))
    line = shapely.LineString(np.column_stack([x, y]))
    assert line.length == 0 or line.distance(ZURICH.airspace.union) > 1.0
