"""A simulator run's metrics are its `RunStats` as scraped; ready once it sees deliveries."""

from __future__ import annotations

from prometheus_client import generate_latest

from simulator.adapters.metrics import COUNTERS, simulator_probes
from simulator.adapters.runner import RunStats, SimulatorRunner
from simulator.flight.engine import FleetEngine
from simulator.settings import SimulatorSettings
from tests.support.simulator_runner import DEPOT, FAST_SPEC


def runner() -> SimulatorRunner:
    engine = FleetEngine.at_depots(4, (DEPOT,), FAST_SPEC, seed=1, id_prefix="m-")
    config = SimulatorSettings(kafka_bootstrap="localhost:1", drones=4)
    return SimulatorRunner(config, engine, demand=None)


def page(run: SimulatorRunner) -> dict[str, float]:
    """The run's samples by name, as Prometheus would read them now."""
    text = generate_latest(simulator_probes(run).registry).decode()
    return {
        name: float(value)
        for name, value in (line.rsplit(" ", 1) for line in text.splitlines())
        if name.startswith("dronefleet_simulator_")
    }


def test_the_counters_are_the_run_s_as_they_are_now() -> None:
    run = runner()
    assert page(run)["dronefleet_simulator_telemetry_sent_total"] == 0
    run.stats.telemetry_sent, run.stats.send_errors, run.stats.late_steps = 40, 2, 1
    seen = page(run)
    assert seen["dronefleet_simulator_telemetry_sent_total"] == 40
    assert seen["dronefleet_simulator_send_errors_total"] == 2
    assert seen["dronefleet_simulator_late_steps_total"] == 1
    assert seen["dronefleet_simulator_drones"] == 4


def test_every_counter_is_a_field_of_the_run_stats() -> None:
    assert set(COUNTERS) <= set(RunStats.__dataclass_fields__)


def test_ready_once_the_deliveries_are_seen() -> None:
    run = runner()
    probes = simulator_probes(run)
    assert probes.ready() is not None
    run.ready.set()
    assert probes.ready() is None
