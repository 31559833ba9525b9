"""The airspace's geometry: inside a zone, inside the service area, a mission against range.

Pure Python on purpose (no shapely, no pyproj here): `contracts` is what every service
imports, so it stays a few kilobytes of msgspec structs and arithmetic, and every reader
(the API on each request, dispatch, the dashboard) gets the same answer from the same
code. The questions are small: a few zones of tens of vertices, asked for two points
per request. Each polygon keeps its bounding box, so a point away from a zone costs four
comparisons and only a point inside the box walks the ring (microseconds).

Polygons have straight edges in (lat, lon). The simulator's physics asks the same
question in its local frame, an affine map of (lat, lon) (`simulator.flight.geo`), and
an affine map keeps what is inside a polygon, so the flight engine and the API agree on
every point (a test checks it on random points). Distances are great-circle on the
mean Earth radius: within 0.5 % of the ellipsoid's geodesic, far below the margin
between a served mission and the range.

Which reason a request gets, in the order a drone would meet them: may it go to the
pickup (`pickup_in_no_fly_zone`), to the drop-off (`dropoff_in_no_fly_zone`), does the
platform serve the pickup (`outside_service_area`), can a drone fly the mission from
and back to a depot (`beyond_range`), does it serve the drop-off
(`outside_service_area`). A request that passes may still be refused by a drone (a
detour around a zone or a headwind costs more than the straight line): these are the
requests no drone could ever serve, refused before anyone waits for them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from contracts.events import AirspacePublished, GeoPoint

EARTH_RADIUS_M = 6_371_008.8
"""The mean Earth radius (IUGG): great-circle distances are within 0.5 % of WGS84's."""

Unservable = Literal[
    "pickup_in_no_fly_zone", "dropoff_in_no_fly_zone", "outside_service_area", "beyond_range"
]
"""Why a request can never be served (the API answers 422 with it)."""

PLATFORM_AIRSPACE_ID = "platform"
"""The key of the airspace in force: the platform serves one airspace at a time."""


def distance_m(a: GeoPoint, b: GeoPoint) -> float:
    """Great-circle distance in metres (haversine)."""
    lat_a, lat_b = math.radians(a.lat), math.radians(b.lat)
    dlat = lat_b - lat_a
    dlon = math.radians(b.lon - a.lon)
    h = math.sin(dlat / 2) ** 2 + math.cos(lat_a) * math.cos(lat_b) * math.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


@dataclass(frozen=True, slots=True)
class Polygon:
    """A ring of points with its bounding box, for point-in-polygon questions."""

    lats: tuple[float, ...]
    lons: tuple[float, ...]
    south: float
    north: float
    west: float
    east: float

    @classmethod
    def of(cls, ring: tuple[GeoPoint, ...]) -> Polygon:
        """The polygon of an open ring (the first point is not repeated at the end)."""
        lats = tuple(p.lat for p in ring)
        lons = tuple(p.lon for p in ring)
        return cls(lats, lons, min(lats), max(lats), min(lons), max(lons))

    def contains(self, point: GeoPoint) -> bool:
        """Whether `point` is inside (even-odd rule; a point on an edge may go either way)."""
        lat, lon = point.lat, point.lon
        if not (self.south <= lat <= self.north and self.west <= lon <= self.east):
            return False
        inside = False
        lats, lons = self.lats, self.lons
        j = len(lats) - 1
        for i in range(len(lats)):
            if (lats[i] > lat) != (lats[j] > lat):
                crossing = lons[i] + (lat - lats[i]) * (lons[j] - lons[i]) / (lats[j] - lats[i])
                if lon < crossing:
                    inside = not inside
            j = i
        return inside


class AirspaceRules:
    """One published airspace, ready for questions (built once per version)."""

    def __init__(self, airspace: AirspacePublished) -> None:
        self.airspace = airspace
        self.zones = tuple((zone.name, Polygon.of(zone.boundary)) for zone in airspace.zones)
        self.area = Polygon.of(airspace.service_area)

    def zone_at(self, point: GeoPoint) -> str | None:
        """The name of the first zone containing `point`, if any."""
        for name, polygon in self.zones:
            if polygon.contains(point):
                return name
        return None

    def serves(self, point: GeoPoint) -> bool:
        """Whether `point` lies inside the service area."""
        return self.area.contains(point)

    def nearest_depot_m(self, point: GeoPoint) -> float:
        """Distance from `point` to the nearest depot."""
        return min(distance_m(point, depot.position) for depot in self.airspace.depots)

    def mission_m(self, pickup: GeoPoint, dropoff: GeoPoint) -> float:
        """The shortest straight mission: nearest depot, pickup, drop-off, nearest depot."""
        return (
            self.nearest_depot_m(pickup)
            + distance_m(pickup, dropoff)
            + self.nearest_depot_m(dropoff)
        )

    def refusal(self, pickup: GeoPoint, dropoff: GeoPoint) -> tuple[Unservable, str] | None:
        """Why no drone could serve this request, with a sentence for people; None if one might."""
        zone = self.zone_at(pickup)
        if zone is not None:
            return "pickup_in_no_fly_zone", f"the pickup is inside the no-fly zone {zone!r}"
        zone = self.zone_at(dropoff)
        if zone is not None:
            return "dropoff_in_no_fly_zone", f"the drop-off is inside the no-fly zone {zone!r}"
        if not self.serves(pickup):
            return "outside_service_area", (
                f"the pickup is outside the service area {self.airspace.name!r}"
            )
        mission = self.mission_m(pickup, dropoff)
        if mission > self.airspace.range_m:
            return "beyond_range", (
                f"the mission from the nearest depot and back is {mission / 1000:.1f} km, "
                f"beyond the fleet's range of {self.airspace.range_m / 1000:.1f} km"
            )
        if not self.serves(dropoff):
            return "outside_service_area", (
                f"the drop-off is outside the service area {self.airspace.name!r}"
            )
        return None
