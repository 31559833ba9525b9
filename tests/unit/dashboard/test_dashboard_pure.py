"""The dashboard's pure parts: lag sums, panel reshapes, maps without a CDN, settings."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from dashboard import figures, maps
from dashboard.cli import streamlit_argv
from dashboard.lag import TopicLag, summarize
from dashboard.queries import AirspaceShapes
from dashboard.settings import DashboardSettings
from devstack.services import PlatformConfig
from devstack.settings import StackSettings
from scripts import check_notebooks

FLEET = pd.DataFrame(
    {
        "drone_id": ["a", "b", "c"],
        "lat": [47.37, 47.38, 47.39],
        "lon": [8.54, 8.55, 8.56],
        "phase": ["idle", "to_pickup", "idle"],
        "battery_pct": [15.0, 80.0, 49.9],
    }
)
IN_FLIGHT = pd.DataFrame(
    {
        "delivery_id": ["d1", "d2"],
        "latest_eta": [datetime(2026, 11, 27, 12, 10, tzinfo=UTC), None],
        "dropoff_lat": [47.385, 47.39],
        "dropoff_lon": [8.548, 8.55],
    }
)


def test_lag_is_summed_per_topic_and_counts_uncommitted_partitions_whole() -> None:
    lag = summarize(
        "g",
        {("t", 0): 5, ("t", 1): None, ("u", 0): 12},
        {("t", 0): 8, ("t", 1): 4, ("u", 0): 10},
    )
    assert lag == [TopicLag("g", "t", 2, 3 + 4), TopicLag("g", "u", 1, 0)]


def test_drones_by_state_lists_every_phase_and_unknown_ones_last() -> None:
    fleet = pd.concat([FLEET, FLEET.assign(phase="hovering").iloc[:1]])
    states = figures.drones_by_state(fleet).set_index("state")["drones"].to_dict()
    assert states == {
        "idle": 2,
        "to_pickup": 1,
        "at_pickup": 0,
        "to_dropoff": 0,
        "at_dropoff": 0,
        "returning": 0,
        "hovering": 1,
    }


@pytest.mark.parametrize(
    ("pct", "band"), [(0.0, "< 20 %"), (19.99, "< 20 %"), (20.0, "20-50 %"), (80.0, "≥ 80 %")]
)
def test_battery_bands_include_their_lower_bound(pct: float, band: str) -> None:
    assert figures.battery_band(pct) == band


def test_drones_by_battery() -> None:
    counts = figures.drones_by_battery(FLEET).set_index("battery")["drones"].to_dict()
    assert counts == {"< 20 %": 1, "20-50 %": 1, "50-80 %": 0, "≥ 80 %": 1}


def test_minutes_left_until_the_eta() -> None:
    now = datetime(2026, 11, 27, 12, 4, 30, tzinfo=UTC)
    left = figures.with_minutes_left(IN_FLIGHT, now)["minutes_left"].tolist()
    assert left[0] == 5.5 and pd.isna(left[1])


def test_seconds_left_over_time_skips_updates_without_eta() -> None:
    track = pd.DataFrame(
        {
            "observed_at": [datetime(2026, 11, 27, 12, 0, s, tzinfo=UTC) for s in (0, 20, 40)],
            "eta": [datetime(2026, 11, 27, 12, 5, tzinfo=UTC), None, None],
        }
    )
    assert figures.seconds_left_over_time(track)["seconds_left"].tolist() == [300.0]


def test_the_maps_ask_no_cdn_and_no_token() -> None:
    deck = json.loads(maps.fleet_map(FLEET, IN_FLIGHT, None).to_json())
    assert deck["mapStyle"].startswith("data:application/json,")
    assert "mapProvider" not in deck
    text = json.dumps(deck)
    assert "cartocdn" not in text and "mapbox://" not in text
    assert [layer["id"] for layer in deck["layers"]] == ["dropoffs", "drones"]
    assert len(deck["layers"][1]["data"]) == 3


def test_the_fleet_map_draws_the_airspace_under_the_drones() -> None:
    airspace = AirspaceShapes(
        name="zurich",
        zones=[{"name": "lake", "polygon": [[8.54, 47.35], [8.55, 47.35], [8.55, 47.36]]}],
        depots=pd.DataFrame({"name": ["Hauptbahnhof"], "lat": [47.378], "lon": [8.54]}),
        service_area=[[8.45, 47.30], [8.65, 47.30], [8.65, 47.45]],
    )
    deck = json.loads(maps.fleet_map(FLEET, IN_FLIGHT, None, airspace).to_json())
    assert [layer["id"] for layer in deck["layers"]] == [
        "service-area",
        "no-fly-zones",
        "depots",
        "dropoffs",
        "drones",
    ]
    assert deck["layers"][1]["data"][0]["polygon"][0] == [8.54, 47.35]
    assert deck["layers"][2]["data"][0]["name"] == "Hauptbahnhof"


def test_a_configured_base_map_is_used() -> None:
    track = pd.DataFrame({"lat": [47.37, 47.38], "lon": [8.54, 8.55]})
    status = {"pickup_lat": 47.37, "pickup_lon": 8.54, "dropoff_lat": 47.38, "dropoff_lon": 8.55}
    url = "https://tiles.example.internal/style.json"
    deck = json.loads(maps.track_map(track, status, url).to_json())
    assert deck["mapStyle"] == url
    assert deck["layers"][0]["data"][0]["path"] == [[8.54, 47.37], [8.55, 47.38]]


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRONEFLEET_DASHBOARD_TOPIC_PREFIX", "x-")
    monkeypatch.setenv("DRONEFLEET_DASHBOARD_REFRESH_S", "2.5")
    monkeypatch.setenv("DRONEFLEET_DASHBOARD_PORT", "9999")
    settings = DashboardSettings()
    assert settings.groups == [
        "x-dronefleet-streams",
        "x-dronefleet-streams-gate",
        "x-dronefleet-streams-deliveries",
        "x-projections-core",
    ]
    assert settings.refresh_s == 2.5
    argv = streamlit_argv(settings, ["--theme.base", "dark"])
    assert argv[:3] == ["streamlit", "run", str(Path(maps.__file__).with_name("app.py"))]
    assert argv[argv.index("--server.port") + 1] == "9999"
    assert argv[-2:] == ["--theme.base", "dark"]


def test_a_refresh_period_of_zero_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRONEFLEET_DASHBOARD_REFRESH_S", "0")
    with pytest.raises(ValueError, match="refresh_s"):
        DashboardSettings()


def test_committed_notebooks_have_no_outputs() -> None:
    assert check_notebooks.main([]) == 0


def test_the_notebook_check_finds_outputs_and_strips_them(tmp_path: Path) -> None:
    notebook = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("1 + 1")
    cell.execution_count = 1
    cell.outputs = [
        nbformat.v4.new_output("execute_result", data={"text/plain": "2"}, execution_count=1)
    ]
    notebook.cells = [cell]
    path = tmp_path / "dirty.ipynb"
    nbformat.write(notebook, path)
    assert check_notebooks.problems(path) == [
        "dirty.ipynb: cell 0 has outputs",
        "dirty.ipynb: cell 0 has an execution count",
    ]
    assert check_notebooks.main([str(path)]) == 1
    check_notebooks.main(["--strip", str(path)])
    assert check_notebooks.problems(path) == []


def test_the_platform_configures_the_dashboard_it_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    config = PlatformConfig(
        stack=StackSettings(), database="somedb", topic_prefix="p-", dashboard_port=8765
    )
    for name, value in config.environment().items():
        if name.startswith("DRONEFLEET_DASHBOARD_"):
            monkeypatch.setenv(name, value)
    settings = DashboardSettings()
    assert settings.database_url == config.stack.dsn_for("somedb")
    assert settings.kafka_bootstrap == config.stack.kafka_bootstrap
    assert settings.groups == [
        "p-dronefleet-streams",
        "p-dronefleet-streams-gate",
        "p-dronefleet-streams-deliveries",
        "p-projections-core",
    ]
    assert settings.port == 8765 and config.dashboard_url == "http://127.0.0.1:8765"
    assert PlatformConfig(stack=StackSettings(), database="somedb").dashboard_url is None


def test_the_sign_in_compares_the_whole_key_and_pauses_more_after_each_miss() -> None:
    from dashboard.auth import MAX_PAUSE_S, key_matches, pause_after

    assert key_matches("k" * 64, "k" * 64)
    assert not key_matches("k" * 63, "k" * 64) and not key_matches("K" * 64, "k" * 64)
    pauses = [pause_after(n, 0.5) for n in range(1, 20)]
    assert pauses == sorted(pauses) and pauses[0] == 0.5 and pauses[-1] == MAX_PAUSE_S
