"""Distances on the WGS84 ellipsoid (pyproj's Geod), the one geodesy of the processors."""

from __future__ import annotations

import itertools

from pyproj import Geod

from contracts import GeoPoint

WGS84 = Geod(ellps="WGS84")


def distance_m(a: GeoPoint, b: GeoPoint) -> float:
    """Geodesic distance in metres between two points."""
    _, _, metres = WGS84.inv(a.lon, a.lat, b.lon, b.lat)
    return float(metres)


def path_length_m(points: list[GeoPoint]) -> float:
    """Length in metres of the geodesic polyline through `points`."""
    return sum(distance_m(a, b) for a, b in itertools.pairwise(points))
