"""No-fly zones, and the one question the engine and the tests ask of them: is it inside.

A zone is the contracts' `NoFlyZone`, a polygon of WGS84 points: the very zones the
platform publishes (`AirspacePublished`) and every service checks requests against.
Zones are held in the scenario's `LocalFrame`, where the engine's straight flight
segments are straight too (see `simulator.flight.geo`).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry

from contracts import GeoPoint, NoFlyZone
from simulator.flight.geo import FloatArray, LocalFrame

__all__ = ["Airspace", "NoFlyZone"]


class Airspace:
    """The zones of one scenario, as shapely geometry in the scenario's frame."""

    def __init__(self, frame: LocalFrame, zones: tuple[NoFlyZone, ...] = ()) -> None:
        self.frame = frame
        self.zones = zones
        self.polygons: list[Polygon] = [self._polygon(zone) for zone in zones]
        self.union: BaseGeometry = shapely.union_all(self.polygons)
        shapely.prepare(self.union)

    def _polygon(self, zone: NoFlyZone) -> Polygon:
        lat = np.array([p.lat for p in zone.boundary])
        lon = np.array([p.lon for p in zone.boundary])
        x, y = self.frame.to_xy(lat, lon)
        return Polygon(np.column_stack([x, y]))

    def contains(self, lat: FloatArray, lon: FloatArray) -> npt.NDArray[np.bool_]:
        """Which of the points (degrees) lie inside (or on the edge of) a zone."""
        if not self.zones:
            return np.zeros(lat.shape, dtype=bool)
        x, y = self.frame.to_xy(lat, lon)
        inside: npt.NDArray[np.bool_] = shapely.intersects_xy(self.union, x, y)
        return inside

    def zone_at(self, point: GeoPoint) -> str | None:
        """The name of the zone containing `point`, if any."""
        x, y = self.frame.point_xy(point)
        for zone, polygon in zip(self.zones, self.polygons, strict=True):
            if shapely.intersects_xy(polygon, x, y):
                return zone.name
        return None
