"""The faults a chaos scenario injects, each a step on a timeline. Pure description.

A `Fault` says when (seconds after the simulator starts) and what; `loadtest.chaos`
carries them out and records when each struck and when the hurt part was back, which
is where its recovery time is measured from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

FaultKind = Literal[
    "kill_worker",  # SIGKILL the first stream worker, then start it again (a supervisor would)
    "add_worker",  # start one more stream worker (the group rebalances)
    "kill_first_worker",  # SIGKILL the first stream worker for good (its partitions move)
    "restart_postgres",  # fast shutdown, `seconds` down, start
    "stop_kafka",  # controlled shutdown, `seconds` down, start
    "poison",  # one batch of poison records into the telemetry topic
    "restart_simulator",  # stop the simulator, start a new one (its drones forget their missions)
    "receiver_down",  # the webhook receiver fails every post for `seconds` (503, then refused)
    "kill_notifier",  # SIGKILL the notifier mid-batch, then start it again
]


@dataclass(frozen=True, slots=True)
class Fault:
    """One fault on the timeline."""

    at_s: float
    kind: FaultKind
    seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class Scenario:
    """A run of the simulator against the platform, with faults along the way."""

    name: str
    drones: int
    duration_s: float
    faults: tuple[Fault, ...]
    telemetry_hz: float = 1.0
    demand_per_minute: float = 0.0
    """Delivery requests per minute; 0: enough to keep most drones on a mission."""
    chaos: str = ""
    """The simulator's `--chaos` (no `drop`: a deliberately dropped fix is not a loss)."""
    worker_env: dict[str, str] = field(default_factory=dict)
    simulator_env: dict[str, str] = field(default_factory=dict)
    """Settings for the simulator the CLI has no flag for (`DRONEFLEET_SIMULATOR_...`)."""
    settle_s: float = 0.0
    """After the drain, how long every delivery has to reach a final state (0: the ends
    are only counted): the scenarios that silence drones check that none is left behind."""
    impossible_share: float = 0.0
    """Percent of the demand that no drone could ever serve (`simulator.world.demand`):
    the API must refuse each with its reason, and none may reach the log."""
    demand_for_s: float = 0.0
    """Seconds of demand from the simulator's start, then none (0: the whole run): the
    fleet then has the rest of the run to deliver what it took."""
    webhooks: bool = False
    """Run the notifier too, with a real local receiver registered (over the API) as the
    business's endpoint for every delivery event; the run ends with the webhooks' account
    (`loadtest.webhook_ledger`)."""
    notifier_env: dict[str, str] = field(default_factory=dict)
    """Settings of the notifier (`DRONEFLEET_NOTIFIER_...`)."""

    @property
    def silences_drones(self) -> bool:
        """Whether drones fall silent while they hold missions.

        A radio dies, or the simulator is restarted: dispatch must then take their
        missions back (`drone_lost`).
        """
        return "DRONEFLEET_SIMULATOR_SILENCE_AT_S" in self.simulator_env or any(
            fault.kind == "restart_simulator" for fault in self.faults
        )

    @property
    def simulator_settings(self) -> dict[str, str]:
        """The simulator's environment: `simulator_env` and the demand's own settings."""
        demand = {
            "DRONEFLEET_SIMULATOR_IMPOSSIBLE_SHARE": str(self.impossible_share),
            "DRONEFLEET_SIMULATOR_DEMAND_FOR_S": str(self.demand_for_s),
        }
        return {**demand, **self.simulator_env}

    @property
    def events(self) -> int:
        """Telemetry the simulator is asked for."""
        return int(self.drones * self.telemetry_hz * self.duration_s)

    @property
    def demand(self) -> float:
        """Requests per minute: about one per drone over the first minute, by default."""
        return self.demand_per_minute or float(self.drones)

    def simulator_args(self, duration_s: float | None = None) -> list[str]:
        """The simulator CLI's flags for this scenario (for `duration_s`: a restart's)."""
        args = [
            "--drones",
            str(self.drones),
            "--telemetry-hz",
            str(self.telemetry_hz),
            "--duration",
            str(self.duration_s if duration_s is None else duration_s),
            "--demand-per-minute",
            str(self.demand),
        ]
        return [*args, "--chaos", self.chaos] if self.chaos else args


FAST_FAILOVER = {"BROKER_SESSION_TIMEOUT": "10", "BROKER_HEARTBEAT_INTERVAL": "1"}
"""Faust settings (read from the environment) that let a dead worker's partitions move
within seconds instead of Faust's default 60 s session timeout."""


def full_scenarios(scale: float = 1.0) -> list[Scenario]:
    """`make chaos`: the issue's five scenarios (durations times `scale`)."""

    def t(seconds: float) -> float:
        return round(seconds * scale, 1)

    return [
        Scenario(
            "worker-sigkill-x5",
            1000,
            t(100),
            tuple(Fault(t(s), "kill_worker") for s in (15, 30, 45, 60, 75)),
        ),
        Scenario(
            "rebalance",
            1000,
            t(60),
            (Fault(t(12), "add_worker"), Fault(t(30), "kill_first_worker")),
        ),
        Scenario("postgres-restart", 1000, t(60), (Fault(t(25), "restart_postgres", 5.0),)),
        Scenario("kafka-outage-30s", 1000, t(90), (Fault(t(20), "stop_kafka", 30.0),)),
        Scenario(
            "poison-and-chaos",
            1000,
            t(60),
            tuple(Fault(t(s), "poison") for s in (10, 30, 50)),
            chaos="duplicate=2,reorder=2,skew=2,corrupt=0.5",
        ),
        silent_drones_scenario(t(60), 1000),
        simulator_restart_scenario(t(60), 1000),
        impossible_requests_scenario(t(130), 1000),
        webhooks_outage_scenario(t(150), 500, t(20), t(60), (t(50), t(84))),
    ]


def short_outage_scenario() -> Scenario:
    """The default tests' Kafka outage: the broker away 8 s, then poison once it is back.

    The simulator gives a batch 2 s (`send_timeout_s`), not aiokafka's 40, so that an
    outage this short already makes its batches fail and its producer be replaced: the
    path that once left partitions refused for good.
    """
    return Scenario(
        "short-outage",
        250,
        40.0,
        (Fault(8, "stop_kafka", 8.0), Fault(30, "poison")),
        chaos="duplicate=1,reorder=1",
        worker_env=dict(FAST_FAILOVER),
        simulator_env={"DRONEFLEET_SIMULATOR_SEND_TIMEOUT_S": "2"},
    )


SHORT_LIVENESS = {
    "DRONEFLEET_STREAMS_DRONE_SILENT_AFTER_S": "8",
    "DRONEFLEET_STREAMS_FLEET_REFRESH_S": "2",
    "DRONEFLEET_STREAMS_LIVENESS_TICK_S": "1",
    "DRONEFLEET_STREAMS_ASSIGNMENT_TAKE_UP_S": "10",
    "DRONEFLEET_STREAMS_WAIT_PROMISE_S": "15",
}
"""Liveness settings a short run can see through: a drone silent 8 s is lost, a delivery
waits at most 15 s for a drone (the defaults are 30 s and 30 minutes)."""


def silent_drones_scenario(duration_s: float = 40.0, drones: int = 250) -> Scenario:
    """A fifth of the drones fall silent mid-run, then the simulator stops.

    Once it has stopped every drone is silent: after the drain no delivery may be left
    in a non-final state (dispatch takes every mission back, every wait expires).
    """
    return Scenario(
        "silent-drones",
        drones,
        duration_s,
        (Fault(round(duration_s * 0.75), "poison"),),
        chaos="duplicate=1,reorder=1",
        worker_env={**FAST_FAILOVER, **SHORT_LIVENESS},
        simulator_env={
            "DRONEFLEET_SIMULATOR_SILENCE_AT_S": str(round(duration_s * 0.4)),
            "DRONEFLEET_SIMULATOR_SILENCE_SHARE": "20",
        },
        settle_s=60.0,
    )


def simulator_restart_scenario(duration_s: float = 40.0, drones: int = 250) -> Scenario:
    """The simulator is stopped mid-run and started again.

    Its drones, back at their depots with no mission, have forgotten the deliveries they
    flew: none of those may be left behind.
    """
    return Scenario(
        "simulator-restart",
        drones,
        duration_s,
        (
            Fault(round(duration_s * 0.4), "restart_simulator"),
            Fault(round(duration_s * 0.75), "poison"),
        ),
        chaos="duplicate=1,reorder=1",
        worker_env={**FAST_FAILOVER, **SHORT_LIVENESS},
        settle_s=60.0,
    )


SHORT_MISSIONS = {
    "DRONEFLEET_SIMULATOR_DEMAND_RADIUS_M": "300",
    "DRONEFLEET_SIMULATOR_CRUISE_SPEED_MPS": "30",
    "DRONEFLEET_SIMULATOR_DWELL_S": "3",
}
"""Demand within 300 m of the centre (a depot 150 m from it), flown at 30 m/s with 3 s at
each end: with the climbs and descents (27 s a leg) a delivery takes 60 to 95 s from its
assignment, so a short run sees every delivery it took delivered."""


def impossible_requests_scenario(duration_s: float = 130.0, drones: int = 250) -> Scenario:
    """A third of the demand can never be served, and the platform must say so at once.

    Every such request must be refused with its reason, none may be accepted, and every
    possible one is delivered.

    The impossible requests (a pickup or drop-off in a no-fly zone, a pickup far outside
    the service area, a drop-off beyond range) come from the simulator's demand, each
    with the reason the API must answer; the demand ends after the first 15 % of the
    run and the missions are short, so the fleet has the rest of it to deliver the rest.
    """
    return Scenario(
        "impossible-requests",
        drones,
        duration_s,
        (Fault(round(duration_s * 0.5), "poison"),),
        demand_per_minute=180.0,
        chaos="duplicate=1,reorder=1",
        worker_env={**FAST_FAILOVER, **SHORT_LIVENESS},
        simulator_env=dict(SHORT_MISSIONS),
        settle_s=60.0,
        impossible_share=33.0,
        demand_for_s=round(duration_s * 0.15),
    )


def short_scenario() -> Scenario:
    """The default tests' form: 10,000 fixes, two SIGKILLs, a PostgreSQL restart, poison."""
    return Scenario(
        "short",
        250,
        40.0,
        (
            Fault(4, "poison"),
            Fault(10, "kill_worker"),
            Fault(17, "restart_postgres", 3.0),
            Fault(24, "kill_worker"),
            Fault(32, "poison"),
        ),
        chaos="duplicate=1,reorder=1",
        worker_env=dict(FAST_FAILOVER),
    )


QUICK_RETRIES = {
    "DRONEFLEET_NOTIFIER_RETRY_SCHEDULE_S": "[1, 2, 4, 8" + ", 15" * 11 + "]",
    "DRONEFLEET_NOTIFIER_PAUSE_S": "5",
}
"""Retries a run can see through: 1 s growing to 15 s, 180 s in all before a dead letter
(the default is 5 s to 8 h, a day in all), and a failing endpoint paused 5 s at a time
(the default 60 s): the backlog of an outage is sent within seconds of its end, and a
minute's outage is far from the dead letters."""


def webhooks_outage_scenario(
    duration_s: float = 60.0,
    drones: int = 250,
    down_at_s: float = 8.0,
    down_s: float = 18.0,
    kills_at_s: tuple[float, ...] = (29.0,),
) -> Scenario:
    """The business's webhook receiver is down, and the notifier is SIGKILLed mid-batch.

    The receiver answers 503 for the first third of its outage, then refuses connections;
    a kill during the outage hits the notifier with retries waiting, a kill just after
    the receiver is back hits it while it sends the backlog. Every delivery event must
    reach the receiver in order per delivery, repeats only under the same webhook-id,
    every signature verified by the standardwebhooks package.
    """
    return Scenario(
        "webhooks-outage",
        drones,
        duration_s,
        (
            Fault(down_at_s, "receiver_down", down_s),
            *(Fault(at, "kill_notifier") for at in kills_at_s),
        ),
        demand_per_minute=float(drones),
        demand_for_s=round(duration_s * 0.6),
        worker_env=dict(FAST_FAILOVER),
        simulator_env=dict(SHORT_MISSIONS),
        webhooks=True,
        notifier_env=dict(QUICK_RETRIES),
    )
