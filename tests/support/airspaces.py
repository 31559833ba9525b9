"""Airspaces for tests of routes: the Zurich scenario's, and a one-square one.

The square (about 1.1 km by 0.75 km, between the factories' usual points) makes routes
that must bend, with corners known by heart; Zurich's are the platform's own.
"""

from __future__ import annotations

from datetime import UTC, datetime

from contracts import AirspacePublished, AirspaceRules, Depot, GeoPoint, NoFlyZone
from simulator.world.published import airspace_of
from simulator.world.scenario import default_scenario

T0 = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
SQUARE = NoFlyZone(
    "square",
    (
        GeoPoint(47.370, 8.530),
        GeoPoint(47.370, 8.540),
        GeoPoint(47.380, 8.540),
        GeoPoint(47.380, 8.530),
    ),
)
WEST_OF_SQUARE = GeoPoint(47.375, 8.520)
EAST_OF_SQUARE = GeoPoint(47.375, 8.550)
DEPOT_WEST = GeoPoint(47.375, 8.510)
DEPOT_EAST = GeoPoint(47.375, 8.560)


def airspace(zones: tuple[NoFlyZone, ...] = (SQUARE,)) -> AirspacePublished:
    """An airspace of `zones`, with a depot each side of the square, 20 km of range."""
    return AirspacePublished(
        event_id="airspace-1",
        sequence=1,
        occurred_at=T0,
        recorded_at=T0,
        airspace_id="platform",
        name="test",
        zones=zones,
        depots=(Depot("west", DEPOT_WEST), Depot("east", DEPOT_EAST)),
        service_area=(
            GeoPoint(47.30, 8.45),
            GeoPoint(47.30, 8.65),
            GeoPoint(47.45, 8.65),
            GeoPoint(47.45, 8.45),
        ),
        range_m=20_000.0,
    )


def square_rules() -> AirspaceRules:
    """The rules of the one-square airspace."""
    return AirspaceRules(airspace())


def zurich_rules() -> AirspaceRules:
    """The rules of the platform's default scenario (two airports and a polygon)."""
    return AirspaceRules(airspace_of(default_scenario(), T0))
