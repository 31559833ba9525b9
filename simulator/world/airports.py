"""No-fly zones around the real airports of a service area, from `airportsdata`.

Radius: 5 km. Switzerland (FOCA) and the EU's open category forbid drones within 5 km
of civil and military aerodromes without a permit; the UK's flight restriction zones
and the US's 5-mile notification radius are of the same order. `airportsdata` gives
one reference point per aerodrome, not its runways, so a zone is a geodesic circle of
that radius around the reference point; a scenario that needs the runway ends covered
raises `airport_radius_m` or adds a polygon.
"""

from __future__ import annotations

from functools import cache

import airportsdata
import numpy as np

from contracts import GeoPoint
from simulator.flight.airspace import NoFlyZone
from simulator.flight.geo import WGS84, geodesic_circle

AIRPORT_RADIUS_M = 5_000.0


@cache
def _airports() -> tuple[tuple[str, str, float, float], ...]:
    """(ICAO, name, lat, lon) of every aerodrome the package knows (loaded once)."""
    table = airportsdata.load("ICAO")
    return tuple((code, row["name"], row["lat"], row["lon"]) for code, row in table.items())


def airports_near(center: GeoPoint, within_m: float) -> list[tuple[str, str, GeoPoint]]:
    """Aerodromes whose reference point is within `within_m` of `center`, nearest first."""
    rows = _airports()
    lats = np.array([row[2] for row in rows])
    lons = np.array([row[3] for row in rows])
    near = np.flatnonzero(np.abs(lats - center.lat) < within_m / 100_000.0 + 0.1)
    _, _, metres = WGS84.inv(
        np.full(near.size, center.lon), np.full(near.size, center.lat), lons[near], lats[near]
    )
    hits = sorted(
        (float(m), int(i))
        for m, i in zip(np.atleast_1d(metres), near, strict=True)
        if m <= within_m
    )
    return [(rows[i][0], rows[i][1], GeoPoint(rows[i][2], rows[i][3])) for _, i in hits]


def airport_zones(
    center: GeoPoint, area_radius_m: float, radius_m: float = AIRPORT_RADIUS_M
) -> list[NoFlyZone]:
    """A zone for every aerodrome whose circle reaches into the service disc."""
    return [
        NoFlyZone(name=f"{code} {name}", boundary=tuple(geodesic_circle(point, radius_m)))
        for code, name, point in airports_near(center, area_radius_m + radius_m)
    ]
