"""The platform under faults, short form: nothing acknowledged is lost, nothing doubled.

On a private stack (`conftest.private_stack`), the whole platform runs while the
simulator flies 250 drones at 1 Hz for 40 s (about 10,000 fixes, with duplicates and
reordering from its chaos mode), twice, with the faults of `loadtest.faults`:
- `short`: the stream worker is SIGKILLed and restarted twice, PostgreSQL is restarted
  once and two batches of poison records are produced;
- `short-outage`: the Kafka broker is stopped for 8 s, then a batch of poison follows;
- `silent-drones`: a fifth of the drones fall silent mid-run (and all of them when the
  simulator stops), with short liveness settings: after the drain no delivery is left
  in a non-final state;
- `simulator-restart`: the simulator is stopped and started again mid-run (its drones
  forget their missions), then poison; no delivery left behind either;
- `impossible-requests`: a third of the demand can never be served (a pickup or drop-off
  in a no-fly zone, far outside the service area, beyond range): each is refused with
  its reason and none reaches the log, and every possible one is delivered.
Then the ledger (`loadtest.ledger`) compares the telemetry topic with the projections
and the dead letters. The long form with the issue's five scenarios is `make chaos`.

The workers run with a 10 s Kafka session timeout (`BROKER_SESSION_TIMEOUT`) instead of
Faust's 60 s default, so that the partitions of a killed worker move within the time
this test may take; `make chaos` measures the recovery with the defaults.
"""

from __future__ import annotations

import pytest

from contracts import Unservable
from loadtest.chaos import ScenarioResult, run_scenario
from loadtest.faults import (
    Scenario,
    impossible_requests_scenario,
    short_outage_scenario,
    short_scenario,
    silent_drones_scenario,
    simulator_restart_scenario,
)
from loadtest.poison import POISON_KINDS
from loadtest.private_stack import PrivateStack

Run = tuple[Scenario, ScenarioResult]


@pytest.fixture(
    scope="module",
    params=[
        short_scenario,
        short_outage_scenario,
        silent_drones_scenario,
        simulator_restart_scenario,
        impossible_requests_scenario,
    ],
)
def run(request: pytest.FixtureRequest, private_stack: PrivateStack) -> Run:
    scenario: Scenario = request.param()
    return scenario, run_scenario(private_stack, scenario, private_stack.settings.home / "logs")


@pytest.fixture
def result(run: Run) -> ScenarioResult:
    return run[1]


def test_the_faults_really_struck(run: Run) -> None:
    scenario, result = run
    assert [fault.kind for fault in result.faults] == [fault.kind for fault in scenario.faults]
    # How many fixes the simulator manages depends on the machine (2 shared cores); the
    # ledger's verdicts below hold for whatever it sent, so only "it flew" is asserted.
    assert result.simulator["telemetry_sent"] > 1_000
    assert result.simulator["chaos_duplicated"] > 0 and result.simulator["chaos_reordered"] > 0


def test_every_acknowledged_fix_is_in_the_topic(run: Run) -> None:
    """Nothing acknowledged is missing; the only extras are batches given up on.

    During an outage the simulator stops waiting for a batch after its send timeout and
    counts it as a send error, but the old producer may still deliver it once the broker
    is back: such records are in the topic without an acknowledgement, never more of
    them than the send errors. Without an outage the counts must be equal.
    """
    scenario, result = run
    figures, late = result.figures, result.simulator["send_errors"]
    assert figures.acked_not_in_topic <= 0
    assert figures.topic_records - figures.acked <= late
    if not any(fault.kind == "stop_kafka" for fault in scenario.faults):
        assert late == 0


def test_after_every_fault_the_simulator_reaches_every_partition_again(run: Run) -> None:
    """After a broker outage the producer is replaced, not refused for good (the loss the
    long kafka-outage run found): each partition gets fixes produced after the fault."""
    scenario, result = run
    silent = {f"{f.kind}@{f.at_s:.0f}s": f.silent_partitions for f in result.faults}
    assert {when: parts for when, parts in silent.items() if parts} == {}, silent
    if any(fault.kind == "stop_kafka" for fault in scenario.faults):
        # The 2 s send timeout makes the outage fail batches: the renewal path ran.
        assert result.simulator["send_errors"] > 0
        assert result.simulator["producer_renewals"] >= 1


def test_every_fix_is_stored_exactly_once(result: ScenarioResult) -> None:
    figures = result.figures
    assert figures.telemetry_rows_lost == 0
    assert figures.telemetry_duplicate_rows == 0
    assert figures.telemetry_rows == figures.telemetry_expected_rows > 1_000
    assert figures.refused_rows == 0, "a fix the gate refused is in the history"
    assert figures.unaccounted == 0, "a fix neither accepted nor refused"


def test_every_fix_on_a_mission_is_forwarded_or_dead_lettered(result: ScenarioResult) -> None:
    assert result.figures.gate_checked > 0, "some drones flew deliveries"
    assert result.figures.gate_lost == 0


def test_every_poison_record_is_dead_lettered_with_a_reason(run: Run) -> None:
    scenario, result = run
    figures = result.figures
    batches = sum(1 for fault in scenario.faults if fault.kind == "poison")
    assert figures.poison_sent == batches * POISON_KINDS > 0
    assert figures.poison_missing == 0
    assert figures.undecodable_not_dead_lettered == 0
    assert figures.dead_letter_reasons.get("duplicate_sequence", 0) > 0, "chaos duplicates"


def test_no_valid_record_crashed_a_processor(result: ScenarioResult) -> None:
    assert result.figures.processing_errors == 0


def test_tracking_and_delivery_events_are_not_doubled(result: ScenarioResult) -> None:
    assert result.figures.tracking_rows > 0
    assert result.figures.tracking_duplicate_rows == 0
    assert result.figures.conflicting_delivery_events == 0


def test_the_projections_drained(result: ScenarioResult) -> None:
    """The sink's consumer group and its database checkpoints reached the end of the log.

    The stream worker's processing is proven by the ledger (every fix forwarded or
    dead-lettered, above), not by its group's committed offsets: after a SIGKILL and a
    rebalance Faust sometimes stops advancing a partition's commit although the worker
    has processed past it (seen in CI: 544 records of committed lag, nothing lost). That
    costs a re-read after the next restart (the processors are idempotent), not data; the
    figure is in `make chaos`'s output and the cause is open in the issue notes.
    """
    sink = {k: v for k, v in result.lag_after_drain.items() if "dronefleet-streams" not in k}
    assert len(sink) == 2 and set(sink.values()) == {0}, result.lag_after_drain


def test_no_delivery_is_left_behind(run: Run) -> None:
    """Every delivery ends once its drones are silent: their missions are taken back
    (rescheduled, or failed with `drone_lost`) and every wait for a drone expires.

    Checked where the scenario gives the deliveries the time (`settle_s`, with short
    liveness settings); elsewhere their ends are counted in the results only.
    """
    scenario, result = run
    outcomes = result.deliveries
    assert sum(outcomes.statuses.values()) > 0, "deliveries were requested"
    if scenario.settle_s:
        assert outcomes.not_final == 0, outcomes.as_dict()
    if scenario.silences_drones:
        lost = outcomes.reasons["rescheduled:drone_lost"] + outcomes.reasons["failed:drone_lost"]
        assert lost > 0, outcomes.as_dict()


def test_no_request_that_no_drone_could_serve_is_in_the_log(result: ScenarioResult) -> None:
    """Read from the deliveries topic against the airspace in force: what the API
    accepted is servable, in every scenario."""
    assert result.deliveries.airspace_known
    assert result.deliveries.unservable_accepted == {}, result.deliveries.as_dict()


def test_every_impossible_request_is_refused_with_its_reason(run: Run) -> None:
    """Where the demand mixes them in: each of the four reasons asked and answered, as
    counted by the simulator from the API's 422 answers; none accepted, none refused
    with another reason, and no possible request refused."""
    scenario, result = run
    simulator = result.simulator
    if not scenario.impossible_share:
        assert "unservable_asked" not in simulator, "only this scenario asks for them"
        return
    for reason in Unservable.__args__:
        asked = simulator[f"unservable_asked:{reason}"]
        assert asked > 0 and simulator[f"unservable_refused:{reason}"] == asked, reason
    assert simulator["unservable_refused_as_expected"] == simulator["unservable_asked"]
    assert simulator["unservable_accepted"] == simulator["unservable_refused_otherwise"] == 0
    assert simulator["servable_refused"] == simulator["request_errors"] == 0


def test_every_possible_request_is_delivered_where_the_fleet_has_the_time(run: Run) -> None:
    """Where the demand ends early enough for the fleet to fly it all (`demand_for_s`),
    every accepted request is delivered: refusing the impossible ones cost the possible
    ones nothing."""
    scenario, result = run
    if not scenario.demand_for_s:
        return
    accepted = result.simulator["requests_posted"]
    assert accepted > 0
    assert result.deliveries.statuses == {"delivered": accepted}, result.deliveries.as_dict()
