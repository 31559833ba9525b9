"""The airspace's geometry (`contracts.airspace`): reasons, and agreement with the physics.

The Zurich scenario's airspace is the one under test, as the platform publishes it
(`simulator.world.published`). Independent geometry checks the pure one: the simulator's
shapely zones in its local frame, and pyproj's geodesic distances.
"""

from __future__ import annotations

import math
import random

import msgspec
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts import AirspaceRules, GeoPoint, utc_now
from contracts.airspace import Polygon, distance_m
from simulator.flight.geo import distance_m as geodesic_m
from simulator.world.published import airspace_of
from simulator.world.scenario import default_scenario

ZURICH = default_scenario()
AIRSPACE = airspace_of(ZURICH, utc_now())
RULES = AirspaceRules(AIRSPACE)
HAUPTBAHNHOF = GeoPoint(47.3780, 8.5400)
NEAR_HAUPTBAHNHOF = GeoPoint(47.3850, 8.5480)
SYDNEY = GeoPoint(-33.8688, 151.2093)


def zone_centre(prefix: str) -> GeoPoint:
    """The mean of a zone's vertices: the centre of an airport's circle."""
    zone = next(z for z in AIRSPACE.zones if z.name.startswith(prefix))
    n = len(zone.boundary)
    return GeoPoint(sum(p.lat for p in zone.boundary) / n, sum(p.lon for p in zone.boundary) / n)


def point_at(origin: GeoPoint, metres: float, bearing_deg: float) -> GeoPoint:
    """A point `metres` away along a bearing (spherical: within metres of the ellipsoid)."""
    d = metres / 6_371_008.8
    lat1, lon1, b = map(math.radians, (origin.lat, origin.lon, bearing_deg))
    lat2 = math.asin(math.sin(lat1) * math.cos(d) + math.cos(lat1) * math.sin(d) * math.cos(b))
    lon2 = lon1 + math.atan2(
        math.sin(b) * math.sin(d) * math.cos(lat1), math.cos(d) - math.sin(lat1) * math.sin(lat2)
    )
    return GeoPoint(math.degrees(lat2), math.degrees(lon2))


def reason(pickup: GeoPoint, dropoff: GeoPoint) -> str | None:
    refused = RULES.refusal(pickup, dropoff)
    return None if refused is None else refused[0]


def test_the_issue_s_three_impossible_requests_get_their_reasons() -> None:
    assert reason(zone_centre("LSZH"), HAUPTBAHNHOF) == "pickup_in_no_fly_zone"
    far = point_at(HAUPTBAHNHOF, 95_000, 250)
    assert 94_000 < geodesic_m(HAUPTBAHNHOF, far) < 96_000
    assert reason(HAUPTBAHNHOF, far) == "beyond_range"
    assert reason(SYDNEY, HAUPTBAHNHOF) == "outside_service_area"
    assert reason(SYDNEY, SYDNEY) == "outside_service_area"
    assert reason(HAUPTBAHNHOF, NEAR_HAUPTBAHNHOF) is None


def test_a_drop_off_in_a_zone_and_one_just_outside_the_area() -> None:
    refused = RULES.refusal(HAUPTBAHNHOF, zone_centre("LSMD"))
    assert refused is not None and refused[0] == "dropoff_in_no_fly_zone"
    assert "LSMD" in refused[1]
    # 6.5 km south of the centre: out of the 6 km area, but a mission a drone could fly.
    south = point_at(ZURICH.center, 6_500, 180)
    assert RULES.zone_at(south) is None
    refused = RULES.refusal(HAUPTBAHNHOF, south)
    assert refused is not None and refused[0] == "outside_service_area"
    assert "drop-off" in refused[1]


def test_polygon_contains_by_the_even_odd_rule() -> None:
    square = Polygon.of((GeoPoint(0, 0), GeoPoint(0, 2), GeoPoint(2, 2), GeoPoint(2, 0)))
    assert square.contains(GeoPoint(1, 1))
    assert not square.contains(GeoPoint(3, 1)) and not square.contains(GeoPoint(1, -0.1))
    u_shape = ((0, 0), (3, 0), (3, 1), (1, 1), (1, 2), (3, 2), (3, 3), (0, 3))
    notch = Polygon.of(tuple(GeoPoint(lat, lon) for lat, lon in u_shape))
    assert notch.contains(GeoPoint(0.5, 1.5)) and not notch.contains(GeoPoint(2, 1.5))


def test_great_circle_distances_are_within_half_a_percent_of_the_geodesic() -> None:
    rng = random.Random(7)
    for _ in range(200):
        a = GeoPoint(rng.uniform(-60, 60), rng.uniform(-180, 180))
        b = GeoPoint(rng.uniform(-60, 60), rng.uniform(-180, 180))
        assert distance_m(a, b) == pytest.approx(geodesic_m(a, b), rel=5e-3, abs=1e-6)


def test_the_api_s_zones_are_the_flight_engine_s_on_every_point() -> None:
    """Point in zone in degrees (pure) and in the simulator's frame (shapely) agree."""
    rng = np.random.default_rng(3)
    lat = ZURICH.center.lat + rng.uniform(-0.2, 0.2, 20_000)
    lon = ZURICH.center.lon + rng.uniform(-0.25, 0.25, 20_000)
    physics = ZURICH.airspace.contains(lat, lon)
    pure = np.array(
        [RULES.zone_at(GeoPoint(a, o)) is not None for a, o in zip(lat, lon, strict=True)]
    )
    assert physics.sum() > 1_000  # the sample reaches into the zones
    assert (physics == pure).all()


zones = st.sampled_from(AIRSPACE.zones)
fractions = st.floats(min_value=0.0, max_value=0.98)
points_near_zurich = st.builds(
    GeoPoint,
    st.floats(min_value=47.20, max_value=47.56),
    st.floats(min_value=8.28, max_value=8.80),
)


def inside(zone_index: int, vertex: int, fraction: float) -> GeoPoint:
    """A point on the segment from a (convex) zone's centroid towards one of its vertices."""
    zone = AIRSPACE.zones[zone_index]
    n = len(zone.boundary)
    centre = (sum(p.lat for p in zone.boundary) / n, sum(p.lon for p in zone.boundary) / n)
    corner = zone.boundary[vertex % n]
    return GeoPoint(
        centre[0] + fraction * (corner.lat - centre[0]),
        centre[1] + fraction * (corner.lon - centre[1]),
    )


@settings(max_examples=300, deadline=None)
@given(
    st.integers(0, len(AIRSPACE.zones) - 1),
    st.integers(0, 10_000),
    fractions,
    points_near_zurich,
)
def test_a_point_inside_a_zone_is_always_refused_with_the_zone_reason(
    zone_index: int, vertex: int, fraction: float, other: GeoPoint
) -> None:
    point = inside(zone_index, vertex, fraction)
    assert ZURICH.airspace.contains(np.array([point.lat]), np.array([point.lon]))[0]
    assert reason(point, other) == "pickup_in_no_fly_zone"
    if RULES.zone_at(other) is None:
        assert reason(other, point) == "dropoff_in_no_fly_zone"


points_around_the_area = st.builds(  # mostly inside the area, some just out of it
    point_at,
    st.just(ZURICH.center),
    st.floats(min_value=0, max_value=ZURICH.radius_m * 1.1),
    st.floats(min_value=0, max_value=360),
)


@settings(max_examples=500, deadline=None)
@given(points_around_the_area, points_around_the_area, st.sampled_from([20_000.0, 8_000.0]))
def test_a_served_request_is_never_in_a_zone_outside_the_area_or_beyond_range(
    pickup: GeoPoint, dropoff: GeoPoint, range_m: float
) -> None:
    """With Zurich's range and a shorter one (which refuses many requests in the area)."""
    rules = AirspaceRules(msgspec.structs.replace(AIRSPACE, range_m=range_m))
    if rules.refusal(pickup, dropoff) is not None:
        return
    lats, lons = np.array([pickup.lat, dropoff.lat]), np.array([pickup.lon, dropoff.lon])
    assert not ZURICH.airspace.contains(lats, lons).any()
    for point in (pickup, dropoff):
        assert geodesic_m(ZURICH.center, point) <= ZURICH.radius_m * 1.002
    nearest = [min(geodesic_m(p, depot) for depot in ZURICH.depots) for p in (pickup, dropoff)]
    mission = nearest[0] + geodesic_m(pickup, dropoff) + nearest[1]
    assert mission <= range_m * 1.005
