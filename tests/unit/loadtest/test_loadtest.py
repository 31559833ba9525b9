"""The load harness's pure parts: the ledger's verdicts, recovery times, hops, tables."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import msgspec

from contracts import AirspaceRules, DecodeError, decode_event
from loadtest.chaos import summed
from loadtest.faults import full_scenarios, impossible_requests_scenario, short_scenario
from loadtest.followers import percentile
from loadtest.hops import hop_latencies
from loadtest.lagwatch import Sample, recovery_s
from loadtest.ledger import Observed, TelemetryRecord, account, partitions_silent_since
from loadtest.outcomes import count_unservable
from loadtest.poison import POISON_KINDS, SentPoison, poison_batch
from loadtest.report import table
from simulator.world.demand import PoissonDemand
from simulator.world.published import airspace_of
from tests.support.factories import T0, fix, requested
from tests.support.flight import ZURICH


def observed(**changes: object) -> Observed:
    mission = fix("drone-1", 1, delivery_id="d1")
    idle = fix("drone-2", 1)
    base = {
        "telemetry": [
            TelemetryRecord(0, 0, mission, decodable=True),
            TelemetryRecord(0, 1, idle, decodable=True),
            TelemetryRecord(1, 0, None, decodable=False),
        ],
        "accepted": [
            TelemetryRecord(0, 0, mission, decodable=True),
            TelemetryRecord(0, 1, idle, decodable=True),
        ],
        "table_keys": [("drone-1", 1), ("drone-2", 1)],
        "forwarded_ids": frozenset({mission.event_id}),
        "dead_letters": {(1, 0): "undecodable"},
        "tracking_rows": 3,
        "tracking_sources": 3,
        "delivery_events": [("d1", 1, "e1"), ("d1", 2, "e2")],
    }
    return Observed(**{**base, **changes})  # type: ignore[arg-type]


def test_a_clean_run_loses_and_doubles_nothing() -> None:
    figures = account(observed(), acked=3, poison=[SentPoison("not_json", 1, 0)])
    assert figures.lost == 0 and figures.duplicates == 0
    assert figures.gate_checked == 1 and figures.not_observable == 1
    assert figures.poison_dead_lettered == 1 and figures.undecodable_in_topic == 1


def test_a_partition_the_simulator_never_reached_again_is_named() -> None:
    """Only the simulator's records after the fault count; the harness's poison does not."""
    at = fix("drone-1", 1)
    records = [
        TelemetryRecord(0, 0, at, True, produced_ms=1_000),
        TelemetryRecord(0, 1, at, True, produced_ms=5_000),  # partition 0 heard again
        TelemetryRecord(1, 0, at, True, produced_ms=1_000),  # partition 1 only before
        TelemetryRecord(1, 1, None, False, produced_ms=6_000),  # then only poison
        TelemetryRecord(2, 0, at, True, produced_ms=4_000),  # exactly at the time counts
    ]
    silent = partitions_silent_since(records, 4, since_ms=4_000, not_the_simulators=[(1, 1)])
    assert silent == [1, 3]
    assert partitions_silent_since(records, 3, since_ms=0) == []


def test_each_kind_of_loss_is_counted() -> None:
    figures = account(
        observed(
            table_keys=[("drone-1", 1)],
            forwarded_ids=frozenset(),
            dead_letters={},
        ),
        acked=4,
        poison=[SentPoison("not_json", 1, 0)],
    )
    assert figures.acked_not_in_topic == 1
    assert figures.telemetry_rows_lost == 1
    assert figures.gate_lost == 1
    assert figures.poison_missing == 1 and figures.undecodable_not_dead_lettered == 1
    assert figures.lost == 5


def test_a_refused_fix_on_a_mission_is_accounted_for() -> None:
    figures = account(
        observed(forwarded_ids=frozenset(), dead_letters={(0, 0): "out_of_order", (1, 0): "x"}),
        acked=3,
        poison=[],
    )
    assert figures.gate_lost == 0


def test_history_holds_the_accepted_fixes_only_and_each_fix_is_accepted_or_refused() -> None:
    sent = observed().telemetry
    mission_only = sent[:1]  # the idle drone's fix was not accepted
    assert sent[0].fix is not None
    same = {"telemetry": sent, "forwarded_ids": frozenset({sent[0].fix.event_id})}
    refused = observed(
        **same,
        accepted=mission_only,
        dead_letters={(0, 1): "future_timestamp", (1, 0): "undecodable"},
    )
    figures = account(refused, acked=3, poison=[])
    assert figures.telemetry_expected_rows == 1
    assert figures.refused_rows == 1  # drone-2's refused fix is in `telemetry`
    assert figures.unaccounted == 0 and figures.lost == 0
    neither = account(observed(**same, accepted=mission_only), acked=3, poison=[])
    assert neither.unaccounted == 1  # the idle fix: neither accepted nor refused
    assert neither.lost == 1


def test_duplicates_are_counted_in_each_projection() -> None:
    figures = account(
        observed(
            table_keys=[("drone-1", 1), ("drone-1", 1), ("drone-2", 1)],
            tracking_rows=4,
            delivery_events=[("d1", 1, "e1"), ("d1", 1, "e9")],
        ),
        acked=3,
        poison=[],
    )
    assert figures.telemetry_duplicate_rows == 1
    assert figures.tracking_duplicate_rows == 1
    assert figures.conflicting_delivery_events == 1
    assert figures.duplicates == 2


def sample(at: float, committed: int, end: int) -> Sample:
    return Sample(at, {("t", 0): committed}, {("t", 0): end})


def test_recovery_is_when_the_group_caught_up_with_what_was_there_when_it_came_back() -> None:
    samples = [sample(0, 90, 100), sample(10, 90, 200), sample(12, 150, 220), sample(15, 210, 260)]
    assert recovery_s(samples, back_at=9.5) == 5.5
    assert recovery_s(samples, back_at=20) is None
    assert recovery_s([sample(10, 90, 200)], back_at=9.5) is None


def test_every_poison_record_is_refused_by_the_decoder_or_is_not_a_valid_fix() -> None:
    batch = poison_batch(datetime(2026, 11, 28, tzinfo=UTC), 1)
    assert len(batch) == POISON_KINDS == len({p.kind for p in batch})
    for poison in batch:
        try:
            event = decode_event(poison.value)
        except DecodeError:
            continue
        is_fix = type(event).__name__ == "TelemetryReported"
        assert not is_fix or poison.kind in ("null_island", "future_timestamp"), poison.kind


def test_hops_add_up_and_skip_updates_without_a_fix() -> None:
    hops = hop_latencies(
        {"f1": 1_010}, {"f1": 1_030}, [("f1", 1_000, 1_100), ("milestone", 1_000, 1_200)]
    )
    assert hops == {
        "simulator": [10.0],
        "gate": [20.0],
        "aggregate": [70.0],
        "to tracking topic": [100.0],
    }


def test_percentile_by_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile([], 50) is None


def test_scenarios_ask_for_the_issue_s_loads() -> None:
    full = {s.name: s for s in full_scenarios()}
    assert full["worker-sigkill-x5"].events == 100_000
    assert [f.kind for f in full["worker-sigkill-x5"].faults] == ["kill_worker"] * 5
    assert "drop" not in full["poison-and-chaos"].chaos
    assert short_scenario().events == 10_000


def test_markdown_table() -> None:
    assert table(["a", "b"], [["x", 1_000], ["y", None]]) == (
        "| a | b |\n|---|---|\n| x | 1,000 |\n| y | - |"
    )


def test_a_restarted_simulator_s_runs_are_summed_as_counts() -> None:
    first = {"drones": 250, "telemetry_sent": 4_000, "telemetry_per_s": 250.0, "demand_via": "api"}
    second = {"drones": 250, "telemetry_sent": 6_000, "telemetry_per_s": 240.0, "demand_via": "api"}
    assert summed([first, second]) == {
        "drones": 250,
        "telemetry_sent": 10_000,
        "telemetry_per_s": 240.0,
        "demand_via": "api",
    }


def test_an_accepted_request_no_drone_could_serve_is_counted_by_its_reason() -> None:
    rules = AirspaceRules(airspace_of(ZURICH, T0))
    unservable: Counter[str] = Counter()
    count_unservable(rules, requested("served"), unservable)
    assert unservable == Counter()
    demand = PoissonDemand(ZURICH, 60.0, 4_000.0, 1)
    for kind in demand.unservable_kinds:
        order = demand.unservable_order(kind)
        request = msgspec.structs.replace(requested(kind), pickup=order.pickup)
        request = msgspec.structs.replace(request, dropoff=order.dropoff)
        count_unservable(rules, request, unservable)
    assert unservable == Counter(demand.unservable_kinds)


def test_the_impossible_requests_scenario_is_in_both_forms_and_tells_the_simulator() -> None:
    full = {s.name: s for s in full_scenarios()}
    short = impossible_requests_scenario()
    assert full["impossible-requests"].impossible_share == short.impossible_share > 0
    settings = short.simulator_settings
    assert float(settings["DRONEFLEET_SIMULATOR_IMPOSSIBLE_SHARE"]) == short.impossible_share
    assert 0 < float(settings["DRONEFLEET_SIMULATOR_DEMAND_FOR_S"]) < short.duration_s
    assert settings["DRONEFLEET_SIMULATOR_DEMAND_RADIUS_M"] == "300"
    assert not short.silences_drones
    assert full["silent-drones"].silences_drones and full["simulator-restart"].silences_drones
