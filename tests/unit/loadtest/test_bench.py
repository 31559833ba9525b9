"""The end-to-end benchmark's pure parts: the window of its latency, losses by identity, runs."""

from __future__ import annotations

from typing import Any

from loadtest.bench import losses_by_identity, markdown
from loadtest.hops import hop_latencies
from loadtest.ledger import Observed, TelemetryRecord
from tests.support.factories import fix


def test_only_updates_of_fixes_built_inside_the_window_count() -> None:
    fixes = {"warm": 900, "in": 1_510, "late": 3_010}
    forwarded = {"warm": 950, "in": 1_530, "late": 3_030}
    updates = [("warm", 890, 5_000), ("in", 1_500, 1_600), ("late", 3_000, 3_100)]
    hops = hop_latencies(fixes, forwarded, updates, window_ms=(1_000, 2_000))
    assert hops["to tracking topic"] == [100.0], "the warm-up and the drain are left out"
    assert len(hop_latencies(fixes, forwarded, updates)["to tracking topic"]) == 3


def ledger(telemetry: list[Any], accepted: list[Any], table: list[tuple[str, int]]) -> Observed:
    return Observed(
        telemetry=telemetry,
        accepted=accepted,
        table_keys=table,
        forwarded_ids=frozenset(),
        dead_letters={},
        tracking_rows=0,
        tracking_sources=0,
        delivery_events=[],
    )


def test_a_duplicate_record_cannot_hide_a_missing_one() -> None:
    one, two = fix("drone-1", 1), fix("drone-1", 2)
    twice = [TelemetryRecord(0, 0, one, True), TelemetryRecord(0, 1, one, True)]
    losses = losses_by_identity(ledger(twice, twice[:1], [("drone-1", 1)]), fixes_acked=2)
    assert losses["acked_not_in_topic"] == 1, "two records, one fix: the second is missing"
    assert losses["lost"] == 1
    both = [TelemetryRecord(0, 0, one, True), TelemetryRecord(0, 1, two, True)]
    surplus = [("drone-1", 1), ("drone-1", 1)]  # the first fix twice, the second never
    losses = losses_by_identity(ledger(both, both, surplus), fixes_acked=2)
    assert losses["accepted_not_in_table"] == 1 and losses["lost"] == 1
    clean = losses_by_identity(ledger(both, both, [("drone-1", 1), ("drone-1", 2)]), 2)
    assert clean["lost"] == 0


def run(p99: float, n: int) -> dict[str, Any]:
    return {
        "drones": 10_000,
        "workers": 1,
        "run": n,
        "asked_per_s": 10_000,
        "produced_per_s": 9_900.0,
        "streams_per_s": 9_900.0 + n,
        "deliveries_per_s": 900.0,
        "sink_per_s": 9_800.0,
        "update_p50_ms": p99 / 4,
        "update_p99_ms": p99,
        "update_samples": 40_000,
        "latency_p50_ms": 50.0,
        "latency_p99_ms": 200.0,
        "latency_samples": 2_000,
        "streams_lag_at_end": 0,
        "sink_lag_at_end": 0,
        "drain_s": 5.0,
        "lost": 0,
        "duplicate_rows": 0,
        "processes": {},
        "hops": {},
    }


def test_the_report_names_the_median_run_and_the_worst() -> None:
    text = markdown([run(p99, n) for n, p99 in enumerate([300.0, 120.0, 900.0, 150.0, 200.0], 1)])
    spread = text.split("Median and worst run per level")[1]
    (line,) = [row for row in spread.splitlines() if row.startswith("| 10,000 | 1 | 1 | 5 |")]
    assert "| 50 / 200 |" in line, "the median run is the third of five by p99"
    assert "| 225 / 900 |" in line, "the worst run"
