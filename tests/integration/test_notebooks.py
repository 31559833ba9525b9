"""The analysts' notebooks, executed end to end on a short simulated day.

The platform runs as in the demo (`devstack.services.start_platform`: sink, stream
worker, API, simulator with demand) against fresh topics and a fresh database until a
handful of deliveries are delivered; then every notebook of notebooks/ runs with
nbclient, reading that database through `DRONEFLEET_DSN`. A cell that raises (a query
on a missing view, an empty result the notebook asserts on) fails its test.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from contracts import Topics
from devstack.services import PlatformConfig, start_platform, stop_all
from devstack.settings import StackSettings
from projections.rollups import refresh_rollups
from tests.support.database import count
from tests.support.kafka_helpers import wait_for

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))
DELIVERED = 4

# A compact service area: depots a few hundred metres apart, demand around them, no
# airports near, calm air. Drones fly back to a depot between missions, so with the
# bundled Zurich scenario (depots kilometres apart) a handful of deliveries takes minutes.
SCENARIO = """
name = "notebooks"

[area]
center = { lat = 47.3769, lon = 8.5417 }
radius_m = 1500.0
demand_radius_m = 700.0

[[depots]]
name = "west"
lat = 47.3769
lon = 8.5377

[[depots]]
name = "east"
lat = 47.3769
lon = 8.5457

[wind]
speed_mps = 0.0
from_deg = 240.0
variation_mps = 0.0

[no_fly]
airports = false
"""


@dataclass(frozen=True)
class SimulatedDay:
    """The filled database, and the folder of the run's logs (and executed notebooks)."""

    dsn: str
    logs: Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def simulated_day(
    running_stack: StackSettings,
    topics: Topics,
    fresh_database: Callable[[], str],
    tmp_path_factory: pytest.TempPathFactory,
) -> SimulatedDay:
    """A database filled by the real platform until DELIVERED deliveries are delivered."""
    dsn = fresh_database()
    config = PlatformConfig(
        stack=running_stack,
        database=dsn.rsplit("/", 1)[1],
        topic_prefix=topics.prefix,
        api_port=free_port(),
    )
    logs = running_stack.home / "test-logs" / f"{config.topic_prefix}notebooks"
    scenario = tmp_path_factory.mktemp("notebooks") / "scenario.toml"
    scenario.write_text(SCENARIO)
    # Fast drones with short dwells and demand close to their depots: a delivery takes
    # about a minute, climbs and descents included.
    services = start_platform(
        config,
        logs,
        [
            "--scenario",
            str(scenario),
            "--drones",
            "8",
            "--telemetry-hz",
            "2",
            "--cruise-speed",
            "50",
            "--demand-per-minute",
            "20",
        ],
        {
            "DRONEFLEET_SIMULATOR_DWELL_S": "2",
            "DRONEFLEET_SIMULATOR_DEMAND_RADIUS_M": "1000",
            "DRONEFLEET_STREAMS_DWELL_S": "2",
            "DRONEFLEET_STREAMS_CRUISE_SPEED_MPS": "50",
        },
    )
    try:
        asyncio.run(
            wait_for(
                lambda: (
                    count(
                        dsn, "SELECT count(*) FROM delivery_status_view WHERE status = 'delivered'"
                    )
                    >= DELIVERED
                ),
                timeout_s=420,
                what=f"{DELIVERED} deliveries delivered by the simulated fleet",
            )
        )
    finally:
        stop_all(services)
    refresh_rollups(dsn)
    return SimulatedDay(dsn, logs)


def test_there_are_notebooks() -> None:
    assert {p.stem for p in NOTEBOOKS} >= {
        "delivery_performance",
        "fleet_utilization",
        "delivery_replay",
    }


# The first test also waits for the simulated day (about 2.5 min on an idle 2-core machine).
@pytest.mark.timeout(600)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_the_notebook_runs_on_a_simulated_day(
    path: Path, simulated_day: SimulatedDay, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DRONEFLEET_DSN", simulated_day.dsn)
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=180,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    try:
        client.execute()
    finally:  # the executed copy, plots and all, to look at (never in notebooks/)
        nbformat.write(notebook, simulated_day.logs / path.name)
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert images, f"{path.name} drew no plot"
