"""Geodesy the engine steps with: the WGS84 ellipsoid's local radii and a tangent frame.

Why not pyproj in the loop: a geodesic call per drone per step is what made the first
engine slow. Over one step (metres to tens of metres) the ellipsoid is flat to better
than a millimetre, so the engine measures and moves with the meridional radius M and
the prime-vertical radius N at the drone's own latitude: geodesically consistent fixes
at the cost of a few numpy operations for the whole fleet.

`LocalFrame` is an equirectangular projection around a fixed centre. It is a linear map
of (lat, lon), so a straight segment in the frame is a straight segment in (lat, lon)
and vice versa: a drone that steps towards its waypoint along the (lat, lon) line
(what the engine does) flies exactly the straight segment the route planner checked
against the no-fly zones in this frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from pyproj import Geod

from contracts import GeoPoint

FloatArray = npt.NDArray[np.float64]

WGS84_A = 6_378_137.0
WGS84_F = 1 / 298.257223563
WGS84_E2 = WGS84_F * (2 - WGS84_F)
WGS84 = Geod(ellps="WGS84")
RAD = math.pi / 180.0


def meridional_radius(lat_rad: FloatArray) -> FloatArray:
    """M: metres per radian of latitude at `lat_rad`."""
    s = np.sin(lat_rad)
    result: FloatArray = WGS84_A * (1 - WGS84_E2) / (1 - WGS84_E2 * s * s) ** 1.5
    return result


def east_radius(lat_rad: FloatArray) -> FloatArray:
    """N cos(lat): metres per radian of longitude at `lat_rad`."""
    s = np.sin(lat_rad)
    result: FloatArray = WGS84_A / np.sqrt(1 - WGS84_E2 * s * s) * np.cos(lat_rad)
    return result


def local_offsets(
    lat: FloatArray, lon: FloatArray, to_lat: FloatArray, to_lon: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """East and north metres from (lat, lon) to (to_lat, to_lon), degrees in, local radii."""
    lat_rad = lat * RAD
    east = (to_lon - lon) * RAD * east_radius(lat_rad)
    north = (to_lat - lat) * RAD * meridional_radius(lat_rad)
    return east, north


def distance_m(a: GeoPoint, b: GeoPoint) -> float:
    """Geodesic distance in metres (pyproj), for planning and tests, not the hot loop."""
    _, _, metres = WGS84.inv(a.lon, a.lat, b.lon, b.lat)
    return float(metres)


@dataclass(frozen=True, slots=True)
class LocalFrame:
    """Equirectangular metres (x east, y north) around `center`, with its local radii."""

    center: GeoPoint

    @property
    def _scales(self) -> tuple[float, float]:
        lat_rad = np.array([self.center.lat * RAD])
        return float(east_radius(lat_rad)[0]) * RAD, float(meridional_radius(lat_rad)[0]) * RAD

    def to_xy(self, lat: FloatArray, lon: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Frame metres of degree arrays."""
        sx, sy = self._scales
        return (lon - self.center.lon) * sx, (lat - self.center.lat) * sy

    def point_xy(self, point: GeoPoint) -> tuple[float, float]:
        """Frame metres of one point."""
        x, y = self.to_xy(np.array([point.lat]), np.array([point.lon]))
        return float(x[0]), float(y[0])

    def to_point(self, x: float, y: float) -> GeoPoint:
        """The WGS84 point at frame metres (x, y)."""
        sx, sy = self._scales
        return GeoPoint(self.center.lat + y / sy, self.center.lon + x / sx)


def geodesic_circle(center: GeoPoint, radius_m: float, vertices: int = 64) -> list[GeoPoint]:
    """A polygon that contains the geodesic circle of `radius_m` around `center`.

    The vertices sit at radius / cos(pi / vertices), so the chords between them stay
    outside the true circle: a zone drawn this way is never smaller than the rule.
    """
    radius_m = radius_m / math.cos(math.pi / vertices)
    azimuths = np.linspace(0.0, 360.0, vertices, endpoint=False)
    lons, lats, _ = WGS84.fwd(
        np.full(vertices, center.lon),
        np.full(vertices, center.lat),
        azimuths,
        np.full(vertices, radius_m),
    )
    return [GeoPoint(float(la), float(lo)) for la, lo in zip(lats, lons, strict=True)]
