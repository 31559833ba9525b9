"""The scenario as the platform's airspace (`simulator.world.published`)."""

from __future__ import annotations

from contracts import AirspacePublished, decode_event, encode_event, utc_now
from simulator.flight.geo import distance_m
from simulator.world.published import airspace_of, same_airspace
from simulator.world.scenario import DEFAULT_RANGE_M, default_scenario, parse_scenario
from streams.domain.drone_choice import DispatchPolicy

ZURICH = default_scenario()


def test_the_published_airspace_is_the_scenario_s() -> None:
    airspace = airspace_of(ZURICH, utc_now())
    assert airspace.zones == ZURICH.zones  # the very zones the flight engine flies around
    assert [d.name for d in airspace.depots][:3] == ["Hauptbahnhof", "Seefeld", "Kreis 5"]
    assert tuple(d.position for d in airspace.depots) == ZURICH.depots
    assert airspace.range_m == ZURICH.range_m == 20_000.0
    radii = [distance_m(ZURICH.center, p) for p in airspace.service_area]
    assert min(radii) >= ZURICH.radius_m and max(radii) < ZURICH.radius_m * 1.002
    decoded = decode_event(encode_event(airspace))
    assert isinstance(decoded, AirspacePublished) and decoded == airspace


def test_versions_of_one_airspace_are_the_same_and_a_change_is_not() -> None:
    first, again = airspace_of(ZURICH, utc_now()), airspace_of(ZURICH, utc_now(), sequence=2)
    assert first.event_id != again.event_id and same_airspace(first, again)
    tiny = parse_scenario(
        'name = "tiny"\n[area]\ncenter = { lat = 47.0, lon = 8.0 }\nradius_m = 1000.0\n'
        '[[depots]]\nname = "one"\nlat = 47.0\nlon = 8.0\n[no_fly]\nairports = false\n'
        "[fleet]\nrange_m = 5000.0\n"
    )
    assert tiny.range_m == 5000.0
    assert not same_airspace(first, airspace_of(tiny, utc_now()))


def test_the_default_range_is_what_dispatch_would_send_a_full_drone_on() -> None:
    """Dispatch proposes no drone for a longer mission, so the API refuses it at once."""
    policy = DispatchPolicy()
    dispatch_range_m = (100.0 - policy.reserve_pct) / policy.battery_pct_per_km * 1000
    assert dispatch_range_m == DEFAULT_RANGE_M == ZURICH.range_m
