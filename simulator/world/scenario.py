"""Where the fleet flies: a service area, its depots, its wind and its no-fly zones.

Scenarios are TOML files (`simulator/world/scenarios/*.toml`, the default is Zurich) read with
`tomllib`, shaped by msgspec (unknown keys, wrong types and out-of-range numbers are
refused with the path of the offending value) and then checked for meaning: polygons
must be simple, depots must be inside the area and clear of every zone. Airport zones
come from `airportsdata` (`simulator.world.airports`) when `no_fly.airports` is true.
"""

from __future__ import annotations

import math
import random
import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Annotated

import msgspec
from shapely.geometry import Polygon

from contracts import GeoPoint
from simulator.errors import ScenarioError
from simulator.flight.airspace import Airspace, NoFlyZone
from simulator.flight.geo import LocalFrame, distance_m
from simulator.flight.routing import RoutePlanner
from simulator.flight.wind import WindSpec
from simulator.world.airports import AIRPORT_RADIUS_M, airport_zones

DEFAULT_SCENARIO = Path(__file__).with_name("scenarios") / "zurich.toml"

DEFAULT_RANGE_M = 20_000.0
"""The fleet's range when a scenario names none: dispatch budgets 4 %/km and keeps a 20 %
reserve (`streams.domain.drone_choice.DispatchPolicy`), so a full drone is proposed for
missions of at most 80 / 4 = 20 km (a test keeps the two figures together)."""

Lat = Annotated[float, msgspec.Meta(ge=-90.0, le=90.0)]
Lon = Annotated[float, msgspec.Meta(ge=-180.0, le=180.0)]
Positive = Annotated[float, msgspec.Meta(gt=0.0)]
NonNegative = Annotated[float, msgspec.Meta(ge=0.0)]
Name = Annotated[str, msgspec.Meta(min_length=1)]


class _Point(msgspec.Struct, forbid_unknown_fields=True):
    lat: Lat
    lon: Lon


class _Area(msgspec.Struct, forbid_unknown_fields=True):
    center: _Point
    radius_m: Positive
    demand_radius_m: Positive | None = None


class _Depot(msgspec.Struct, forbid_unknown_fields=True):
    name: Name
    lat: Lat
    lon: Lon


class _Wind(msgspec.Struct, forbid_unknown_fields=True):
    speed_mps: Annotated[float, msgspec.Meta(ge=0.0, le=30.0)] = 0.0
    from_deg: Annotated[float, msgspec.Meta(ge=0.0, lt=360.0)] = 270.0
    variation_mps: Annotated[float, msgspec.Meta(ge=0.0, le=20.0)] = 0.0


class _Zone(msgspec.Struct, forbid_unknown_fields=True):
    name: Name
    boundary: Annotated[list[tuple[Lat, Lon]], msgspec.Meta(min_length=3)]


class _NoFly(msgspec.Struct, forbid_unknown_fields=True):
    airports: bool = True
    airport_radius_m: Positive = AIRPORT_RADIUS_M
    zones: list[_Zone] = msgspec.field(default_factory=list)


class _Fleet(msgspec.Struct, forbid_unknown_fields=True):
    range_m: Positive = DEFAULT_RANGE_M


class _ScenarioFile(msgspec.Struct, forbid_unknown_fields=True):
    name: Name
    area: _Area
    depots: Annotated[list[_Depot], msgspec.Meta(min_length=1)]
    wind: _Wind = msgspec.field(default_factory=_Wind)
    no_fly: _NoFly = msgspec.field(default_factory=_NoFly)
    fleet: _Fleet = msgspec.field(default_factory=_Fleet)


@dataclass(frozen=True)
class Scenario:
    """A service area: a centre and radius, depots, wind, and the airspace's zones."""

    name: str
    center: GeoPoint
    radius_m: float
    depots: tuple[GeoPoint, ...]
    demand_radius_m: float | None = None
    wind: WindSpec = field(default_factory=WindSpec)
    zones: tuple[NoFlyZone, ...] = field(default=(), repr=False)
    depot_names: tuple[str, ...] = ()
    range_m: float = DEFAULT_RANGE_M
    """The longest mission (depot, pickup, drop-off, depot) a full drone is sent on."""

    @property
    def airspace(self) -> Airspace:
        """The zones in this scenario's local frame (what the engine flies around)."""
        return _airspace(self)

    def random_point(self, rng: random.Random, max_radius_m: float | None = None) -> GeoPoint:
        """A uniformly random point of the service disc (or a smaller one) a drone can reach.

        Points inside a no-fly zone or its clearance are drawn again: demand that no
        drone may serve would only exercise the refusal path.
        """
        planner = _planner(self)
        limit = max_radius_m or self.demand_radius_m or self.radius_m
        while True:
            radius = limit * math.sqrt(rng.random())
            bearing = rng.uniform(0, 2 * math.pi)
            dlat = radius * math.cos(bearing) / 111_320.0
            dlon = (
                radius * math.sin(bearing) / (111_320.0 * math.cos(math.radians(self.center.lat)))
            )
            point = GeoPoint(round(self.center.lat + dlat, 6), round(self.center.lon + dlon, 6))
            if planner.reachable(point):
                return point


@cache
def _airspace(scenario: Scenario) -> Airspace:
    return Airspace(LocalFrame(scenario.center), scenario.zones)


@cache
def _planner(scenario: Scenario) -> RoutePlanner:
    return RoutePlanner(_airspace(scenario))


def parse_scenario(text: str, source: str = "<scenario>") -> Scenario:
    """Build a scenario from TOML text; ScenarioError says what is wrong and where."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ScenarioError(source, f"not valid TOML: {error}") from error
    try:
        spec = msgspec.convert(raw, _ScenarioFile)
    except msgspec.ValidationError as error:
        raise ScenarioError(source, str(error)) from error
    center = GeoPoint(spec.area.center.lat, spec.area.center.lon)
    zones = [_polygon_zone(zone, source) for zone in spec.no_fly.zones]
    if spec.no_fly.airports:
        zones += airport_zones(center, spec.area.radius_m, spec.no_fly.airport_radius_m)
    scenario = Scenario(
        name=spec.name,
        center=center,
        radius_m=spec.area.radius_m,
        depots=tuple(GeoPoint(d.lat, d.lon) for d in spec.depots),
        demand_radius_m=spec.area.demand_radius_m,
        wind=WindSpec(spec.wind.speed_mps, spec.wind.from_deg, spec.wind.variation_mps),
        zones=tuple(zones),
        depot_names=tuple(d.name for d in spec.depots),
        range_m=spec.fleet.range_m,
    )
    _check_depots(scenario, source)
    return scenario


def _polygon_zone(zone: _Zone, source: str) -> NoFlyZone:
    boundary = tuple(GeoPoint(lat, lon) for lat, lon in zone.boundary)
    polygon = Polygon([(p.lon, p.lat) for p in boundary])
    if not polygon.is_valid or polygon.area == 0:
        raise ScenarioError(
            source, f"no_fly.zones {zone.name!r}: the boundary is not a simple polygon"
        )
    return NoFlyZone(zone.name, boundary)


def _check_depots(scenario: Scenario, source: str) -> None:
    planner = _planner(scenario)
    for name, depot in zip(scenario.depot_names, scenario.depots, strict=True):
        if distance_m(scenario.center, depot) > scenario.radius_m:
            raise ScenarioError(source, f"depot {name!r} is outside the service area")
        zone = scenario.airspace.zone_at(depot)
        if zone is not None:
            raise ScenarioError(source, f"depot {name!r} is inside the no-fly zone {zone!r}")
        if not planner.reachable(depot):
            raise ScenarioError(
                source,
                f"depot {name!r} is within {planner.margin_m / 2:.0f} m of a no-fly zone",
            )


def load_scenario(path: Path) -> Scenario:
    """Read and validate a scenario file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ScenarioError(str(path), f"cannot read: {error.strerror}") from error
    return parse_scenario(text, str(path))


@cache
def default_scenario() -> Scenario:
    """The bundled Zurich scenario (read once)."""
    return load_scenario(DEFAULT_SCENARIO)
