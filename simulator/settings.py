"""Settings of the simulator (env prefix DRONEFLEET_SIMULATOR_); CLI flags override them."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from kafkaio.settings import KafkaSettings
from runtime import LogSettings, ProbeSettings


class SimulatorSettings(KafkaSettings, ProbeSettings, LogSettings):
    """One simulator process's configuration (probes and metrics: `simulator.adapters.metrics`)."""

    model_config = SettingsConfigDict(env_prefix="DRONEFLEET_SIMULATOR_")

    drones: int = 8
    drone_id_prefix: str = "drone-"
    telemetry_hz: float = 1.0
    telemetry_cohorts: int = Field(default=10, ge=1)
    """The fleet reports in this many cohorts, spread evenly over each telemetry interval
    (drone i in cohort i mod n): real drones' clocks are not in step, and a fleet that
    reports in lockstep hits every stage downstream with one burst per interval, whose
    last fix waits for all the others at each hop. 1: the whole fleet at once."""
    duration_s: float = 0.0
    speedup: float = 1.0
    """Simulated seconds per real second (`simulator.world.clock`): 10 flies ten minutes of
    missions per real minute, at ten times the telemetry rate."""
    seed: int = 42
    cruise_speed_mps: float = 15.0
    dwell_s: float = 10.0
    demand_per_minute: float = 0.0
    demand_radius_m: float | None = None
    """Radius of the demand disc; None: the scenario's `demand_radius_m`."""
    scenario_path: Path | None = None
    """A scenario TOML file; None: the bundled Zurich scenario."""
    send_timeout_s: float = Field(default=40.0, gt=0)
    """How long a batch of fixes may wait for the broker before it is a send error and let
    go, as a radio fix that never arrived (aiokafka's request timeout, whose default it
    keeps, and the sender's own wait for acknowledgements, `kafkaio.BatchSender`, which
    also ends while the broker is unreachable). Shorter: a broker outage costs its fixes
    sooner and the producer is replaced sooner."""
    chaos: str = ""
    """Telemetry perturbations, e.g. `drop=1,duplicate=2,reorder=1,corrupt=0.5,skew=1`."""
    silence_at_s: float = Field(default=0.0, ge=0)
    """When (seconds into the run) `silence_share` of the drones fall silent; with 0 none."""
    silence_share: float = Field(default=0.0, ge=0, le=100)
    """Percent of the drones (the first by id) whose radio dies at `silence_at_s` for the
    rest of the run: they fly on and send nothing (a fault scenario of the platform's
    liveness rule, `loadtest.faults`)."""
    impossible_share: float = Field(default=0.0, ge=0, le=100)
    """Percent of the orders through the API that no drone could ever serve (a pickup or
    drop-off in a no-fly zone, far outside the service area, beyond range): the API must
    refuse each with its reason (`simulator.world.demand`, a fault scenario of
    `loadtest.faults`). Not on the Kafka path, which writes what the API accepted."""
    demand_for_s: float = Field(default=0.0, ge=0)
    """Seconds of demand from the start (simulated), then no more requests, so the fleet
    can finish what it took before the run ends; 0: demand for the whole run."""
    demand_via: Literal["api", "kafka"] = "api"
    """`api`: POST each request to the REST API; `kafka`: write DeliveryRequested directly."""
    demand_business_id: str = "simulator"
    """The business of the requests written to Kafka (the API takes it from the key)."""
    api_url: str = "http://127.0.0.1:8000"
    api_key: str = ""
    log_level: str = "warning"
    """Warnings only by default: the run prints its own progress and summary."""
