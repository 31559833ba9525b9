"""Scenario files: the bundled Zurich scenario, its airport zones, refusals with the reason."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from contracts import GeoPoint
from simulator.errors import ScenarioError
from simulator.flight.wind import WindSpec
from simulator.world.scenario import (
    DEFAULT_SCENARIO,
    default_scenario,
    load_scenario,
    parse_scenario,
)
from streams.domain.geodesy import distance_m

ZURICH = default_scenario()
MINIMAL = """
name = "tiny"
[area]
center = { lat = 47.0, lon = 8.0 }
radius_m = 1000.0
[[depots]]
name = "one"
lat = 47.0
lon = 8.0
"""


def test_the_default_scenario_is_zurich_with_its_airports() -> None:
    assert ZURICH.name == "zurich" and DEFAULT_SCENARIO.exists()
    names = [zone.name for zone in ZURICH.zones]
    assert any(name.startswith("LSZH") for name in names)
    assert any(name.startswith("LSMD") for name in names)
    # The service area reaches into Zurich airport's 5 km circle: the rule matters.
    zrh = GeoPoint(47.4647, 8.54917)
    assert distance_m(ZURICH.center, zrh) - 5_000 < ZURICH.radius_m
    assert ZURICH.depots[0] == GeoPoint(47.3780, 8.5400)


def test_random_demand_points_avoid_the_zones() -> None:
    rng = random.Random(4)
    drawn = [ZURICH.random_point(rng, 6_000) for _ in range(500)]
    lat, lon = np.array([p.lat for p in drawn]), np.array([p.lon for p in drawn])
    assert not ZURICH.airspace.contains(lat, lon).any()


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("name = ", "not valid TOML"),
        (MINIMAL.replace('name = "tiny"', 'name = "tiny"\ncolour = "red"'), "unknown field"),
        (MINIMAL.replace("lat = 47.0\nlon = 8.0\n", "lat = 123.0\nlon = 8.0\n"), "depots[0].lat"),
        (MINIMAL.replace("radius_m = 1000.0", "radius_m = -1.0"), "area.radius_m"),
        (MINIMAL.replace("[[depots]]", "[wind]\nspeed_mps = 'fast'\n[[depots]]"), "wind.speed_mps"),
        (MINIMAL.replace("lat = 47.0\nlon = 8.0\n", "lat = 47.1\nlon = 8.0\n"), "outside"),
        (
            MINIMAL
            + '[[no_fly.zones]]\nname = "bow"\n'
            + "boundary = [[46.99, 7.99], [47.01, 8.01], [46.99, 8.01], [47.01, 7.99]]\n",
            "not a simple polygon",
        ),
        (
            MINIMAL
            + '[[no_fly.zones]]\nname = "box"\n'
            + "boundary = [[46.99, 7.99], [47.01, 7.99], [47.01, 8.01], [46.99, 8.01]]\n",
            "inside the no-fly zone 'box'",
        ),
    ],
)
def test_invalid_scenarios_are_refused_with_the_reason(text: str, problem: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(text, "bad.toml")
    assert str(caught.value).startswith("bad.toml: ")
    assert problem in str(caught.value)


def test_a_missing_file_is_a_scenario_error(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="cannot read"):
        load_scenario(tmp_path / "nope.toml")


def test_a_minimal_scenario_has_calm_wind_and_no_airport_in_range() -> None:
    tiny = parse_scenario(MINIMAL)
    assert tiny.wind == WindSpec() and tiny.depots == (GeoPoint(47.0, 8.0),)
