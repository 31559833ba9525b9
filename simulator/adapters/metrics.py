"""Prometheus metrics and probes of a simulator run (the fleet, as the platform's drones).

The simulator is the platform's load and its drones: when the platform looks slow, the
first question is whether the fleet kept its rate. So it tells the fixes it had
acknowledged, its send errors (a broker away: fixes lost as a radio loses them), the
steps it began late (this machine could not keep up: the rate asked was not the rate
sent), and the demand it placed and failed to place. Read from the runner's `RunStats`
when Prometheus scrapes, served with `/healthz` and `/readyz` (`runtime.probes`) on
`DRONEFLEET_SIMULATOR_METRICS_PORT`. Ready once the runner sees the deliveries topic
(`SimulatorRunner.ready`): before that an assignment could be missed.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from runtime import Probes
from simulator.adapters.runner import SimulatorRunner

COUNTERS = {
    "telemetry_sent": "Records acknowledged on the telemetry topic: fixes and fleet milestones.",
    "milestones_sent": "Reports acknowledged on the delivery commands (pickup, drop-off, ...).",
    "send_errors": "Records the broker did not acknowledge in time (let go, as lost radio fixes).",
    "late_steps": "Cohort steps begun after their due time: the machine did not keep up.",
    "ticks": "Telemetry intervals begun (every drone reports once per tick).",
    "assignments": "Assignments the drones took up.",
    "refusals": "Assignments the drones refused (out of range, busy).",
    "aborts": "Missions the drones aborted.",
    "requests_posted": "Delivery requests the demand placed.",
    "request_errors": "Delivery requests that failed (the API or the broker away).",
    "producer_renewals": "Producers replaced after a failed batch (broker outages).",
}
"""The run's counters (`RunStats` fields), each served as `dronefleet_simulator_<name>`."""


class SimulatorCollector(Collector):
    """Reads the runner's counters when Prometheus scrapes."""

    def __init__(self, runner: SimulatorRunner) -> None:
        self.runner = runner

    def collect(self) -> Iterator[Metric]:
        """One counter per `COUNTERS` entry, and the fleet's size."""
        stats = self.runner.stats
        for name, documentation in COUNTERS.items():
            yield CounterMetricFamily(
                f"dronefleet_simulator_{name}", documentation, value=getattr(stats, name)
            )
        yield GaugeMetricFamily(
            "dronefleet_simulator_drones",
            "Drones the simulator flies.",
            value=self.runner.settings.drones,
        )


def simulator_probes(runner: SimulatorRunner) -> Probes:
    """The run's probes: its registry, ready once it sees the deliveries topic."""
    registry = CollectorRegistry()
    registry.register(SimulatorCollector(runner))

    def ready() -> str | None:
        return None if runner.ready.is_set() else "not yet reading the deliveries topic"

    return Probes.of_process(registry, ready=ready)
