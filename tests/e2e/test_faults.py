"""The platform under faults, short form: nothing acknowledged is lost, nothing doubled.

On a private stack (its own ports and home: the shared one serves other tests and must
never be stopped), the whole platform runs while the simulator flies 250 drones at
1 Hz for 40 s (about 10,000 fixes, with duplicates and reordering from its chaos mode);
meanwhile the stream worker is SIGKILLed and restarted twice, PostgreSQL is restarted
once and two batches of poison records are produced. Then the ledger
(`loadtest.ledger`) compares the telemetry topic with the projections and the dead
letters. The long form with the issue's five scenarios is `make chaos`.

The workers run with a 10 s Kafka session timeout (`BROKER_SESSION_TIMEOUT`) instead of
Faust's 60 s default, so that the partitions of a killed worker move within the time
this test may take; `make chaos` measures the recovery with the defaults.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from loadtest.chaos import ScenarioResult, run_scenario
from loadtest.faults import short_scenario
from loadtest.poison import POISON_KINDS
from loadtest.private_stack import PrivateStack, private_settings


@pytest.fixture(scope="session")
def private_stack() -> Iterator[PrivateStack]:
    """A Kafka and a PostgreSQL of this session's own, stopped and deleted at the end."""
    stack = PrivateStack(private_settings())
    try:
        stack.up()
        yield stack
    finally:
        stack.down()


@pytest.fixture(scope="module")
def run(private_stack: PrivateStack) -> ScenarioResult:
    scenario = short_scenario()
    return run_scenario(private_stack, scenario, private_stack.settings.home / "logs")


def test_the_faults_really_struck(run: ScenarioResult) -> None:
    kinds = [fault.kind for fault in run.faults]
    assert kinds.count("kill_worker") == 2 and "restart_postgres" in kinds
    # How many fixes the simulator manages depends on the machine (2 shared cores); the
    # ledger's verdicts below hold for whatever it sent, so only "it flew" is asserted.
    assert run.simulator["telemetry_sent"] > 1_000
    assert run.simulator["chaos_duplicated"] > 0 and run.simulator["chaos_reordered"] > 0


def test_every_acknowledged_fix_is_in_the_topic(run: ScenarioResult) -> None:
    assert run.figures.acked_not_in_topic == 0
    assert run.simulator["send_errors"] == 0


def test_every_fix_is_stored_exactly_once(run: ScenarioResult) -> None:
    figures = run.figures
    assert figures.telemetry_rows_lost == 0
    assert figures.telemetry_duplicate_rows == 0
    assert figures.telemetry_rows == figures.telemetry_expected_rows > 1_000


def test_every_fix_on_a_mission_is_forwarded_or_dead_lettered(run: ScenarioResult) -> None:
    assert run.figures.gate_checked > 0, "some drones flew deliveries"
    assert run.figures.gate_lost == 0


def test_every_poison_record_is_dead_lettered_with_a_reason(run: ScenarioResult) -> None:
    figures = run.figures
    assert figures.poison_sent == 2 * POISON_KINDS
    assert figures.poison_missing == 0
    assert figures.undecodable_not_dead_lettered == 0
    assert figures.dead_letter_reasons.get("duplicate_sequence", 0) > 0, "chaos duplicates"


def test_no_valid_record_crashed_a_processor(run: ScenarioResult) -> None:
    assert run.figures.processing_errors == 0


def test_tracking_and_delivery_events_are_not_doubled(run: ScenarioResult) -> None:
    assert run.figures.tracking_rows > 0
    assert run.figures.tracking_duplicate_rows == 0
    assert run.figures.conflicting_delivery_events == 0


def test_the_projections_drained(run: ScenarioResult) -> None:
    """The sink's consumer group and its database checkpoints reached the end of the log.

    The stream worker's processing is proven by the ledger (every fix forwarded or
    dead-lettered, above), not by its group's committed offsets: after a SIGKILL and a
    rebalance Faust sometimes stops advancing a partition's commit although the worker
    has processed past it (seen in CI: 544 records of committed lag, nothing lost). That
    costs a re-read after the next restart (the processors are idempotent), not data; the
    figure is in `make chaos`'s output and the cause is open in the issue notes.
    """
    sink = {k: v for k, v in run.lag_after_drain.items() if "dronefleet-streams" not in k}
    assert len(sink) == 2 and set(sink.values()) == {0}, run.lag_after_drain
