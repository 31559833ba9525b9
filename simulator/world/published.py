"""The scenario as the platform's airspace: the `AirspacePublished` event. Pure.

The scenario file is the one definition of where the fleet flies: the simulator's
physics flies around its zones, and this event carries the same zones (the same
`NoFlyZone` values), the depots, the service area and the fleet's range to everyone
else (`simulator.adapters.airspace` publishes it; docs/decisions/0002-airspace.md).
"""

from __future__ import annotations

from datetime import datetime

from contracts import (
    PLATFORM_AIRSPACE_ID,
    AirspacePublished,
    Depot,
    new_event_id,
)
from simulator.flight.geo import geodesic_circle
from simulator.world.scenario import Scenario

AREA_VERTICES = 72
"""Vertices of the service area's circle: its chords stay outside the disc (by 0.1 %)."""


def airspace_of(scenario: Scenario, now: datetime, sequence: int = 1) -> AirspacePublished:
    """The airspace event of `scenario`, as version `sequence`."""
    names = scenario.depot_names or tuple(f"depot {i + 1}" for i in range(len(scenario.depots)))
    return AirspacePublished(
        event_id=new_event_id(),
        sequence=sequence,
        occurred_at=now,
        recorded_at=now,
        airspace_id=PLATFORM_AIRSPACE_ID,
        name=scenario.name,
        zones=scenario.zones,
        depots=tuple(
            Depot(name, position) for name, position in zip(names, scenario.depots, strict=True)
        ),
        service_area=tuple(geodesic_circle(scenario.center, scenario.radius_m, AREA_VERTICES)),
        range_m=scenario.range_m,
    )


def same_airspace(a: AirspacePublished, b: AirspacePublished) -> bool:
    """Whether two versions describe the same airspace (ids, versions and times aside)."""
    return (a.airspace_id, a.name, a.zones, a.depots, a.service_area, a.range_m) == (
        b.airspace_id,
        b.name,
        b.zones,
        b.depots,
        b.service_area,
        b.range_m,
    )
