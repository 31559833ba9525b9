"""Where the fleet flies: the service area, its depots and where customers are.

The default scenario is central Zurich: three depots and customers spread within a few
kilometres of the city centre (issue 3 brings real geography, no-fly zones and files).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from contracts import GeoPoint


@dataclass(frozen=True, slots=True)
class Scenario:
    """A service area: a centre, a radius for customer points, and depots."""

    name: str
    center: GeoPoint
    radius_m: float
    depots: tuple[GeoPoint, ...]

    def random_point(self, rng: random.Random, max_radius_m: float | None = None) -> GeoPoint:
        """A uniformly random point of the service disc (or a smaller one)."""
        radius = (max_radius_m or self.radius_m) * math.sqrt(rng.random())
        bearing = rng.uniform(0, 2 * math.pi)
        dlat = radius * math.cos(bearing) / 111_320.0
        dlon = radius * math.sin(bearing) / (111_320.0 * math.cos(math.radians(self.center.lat)))
        return GeoPoint(round(self.center.lat + dlat, 6), round(self.center.lon + dlon, 6))


ZURICH = Scenario(
    name="zurich",
    center=GeoPoint(47.3769, 8.5417),
    radius_m=2500.0,
    depots=(
        GeoPoint(47.3780, 8.5400),  # Hauptbahnhof
        GeoPoint(47.3667, 8.5500),  # Seefeld
        GeoPoint(47.3900, 8.5150),  # Kreis 5
    ),
)
