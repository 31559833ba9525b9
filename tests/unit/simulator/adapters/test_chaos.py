"""The chaos layer: each perturbation hits its percentage of telemetry, and nothing else.

Percentages are checked statistically over 100,000 records with fixed seeds: a count
must lie within 5 standard deviations of the binomial mean (a false alarm has a chance
of about 1 in 3.5 million, and with fixed seeds the outcome never changes).
"""

from __future__ import annotations

import itertools
import math
from datetime import timedelta
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts import TelemetryReported, Topics, decode_command
from contracts.codec import decode_as
from kafkaio import WireRecord
from simulator.adapters.chaos import KINDS, Chaos, ChaosSpec
from simulator.adapters.wire import to_wire
from tests.support.factories import T0, fix
from tests.support.flight import pickup_done

TOPICS = Topics.with_prefix()
DRONES = 1_000
TICKS = 100  # 100,000 fixes


@cache
def tick_batch(tick: int, drones: int = DRONES) -> list[WireRecord]:
    """One fix per drone for one tick, as the runner would send them (the same each call)."""
    at = T0 + timedelta(seconds=tick)
    return [to_wire(fix(f"drone-{d:05d}", seq=tick + 1, at=at), TOPICS) for d in range(drones)]


def run(spec: ChaosSpec, seed: int = 1, ticks: int = TICKS) -> tuple[Chaos, list[list[WireRecord]]]:
    chaos = Chaos(spec, TOPICS.telemetry.name, seed)
    outputs = [chaos.apply(tick_batch(t)) for t in range(ticks)]
    outputs.append(chaos.flush())
    return chaos, outputs


def within_5_sigma(hits: int, trials: int, percent: float) -> bool:
    p = percent / 100.0
    mean, sigma = trials * p, math.sqrt(trials * p * (1 - p))
    return abs(hits - mean) <= 5 * sigma


def test_the_percentages_of_the_brief_hold() -> None:
    spec = ChaosSpec.parse("drop=1,duplicate=2,reorder=1,corrupt=0.5,skew=1")
    chaos, outputs = run(spec)
    counts, trials = chaos.counts, DRONES * TICKS
    assert counts.seen == trials
    assert within_5_sigma(counts.dropped, trials, 1.0)
    # The others are drawn only for the records that were not dropped.
    kept = trials - counts.dropped
    assert within_5_sigma(counts.duplicated, kept, 2.0)
    assert within_5_sigma(counts.reordered, kept, 1.0)
    assert within_5_sigma(counts.corrupted, kept, 0.5)
    assert within_5_sigma(counts.skewed, kept, 1.0)
    sent = sum(len(batch) for batch in outputs)
    assert sent == trials - counts.dropped + counts.duplicated


@pytest.mark.parametrize("percent", [0.5, 5.0, 30.0])
def test_drop_alone_removes_its_share_and_keeps_the_rest_intact(percent: float) -> None:
    chaos, outputs = run(ChaosSpec(drop=percent), seed=2)
    originals = [r for t in range(TICKS) for r in tick_batch(t)]
    sent = [r for batch in outputs for r in batch]
    assert within_5_sigma(chaos.counts.dropped, len(originals), percent)
    assert len(sent) == len(originals) - chaos.counts.dropped
    remaining = iter(originals)
    assert all(any(r == o for o in remaining) for r in sent), "an ordered subsequence"


def test_duplicates_follow_their_original() -> None:
    chaos, outputs = run(ChaosSpec(duplicate=3.0), seed=3)
    sent = [r for batch in outputs for r in batch]
    pairs = sum(1 for a, b in itertools.pairwise(sent) if a == b)
    assert pairs == chaos.counts.duplicated > 0
    assert within_5_sigma(chaos.counts.duplicated, DRONES * TICKS, 3.0)


def test_corruption_flips_a_few_bytes_of_its_share() -> None:
    chaos, outputs = run(ChaosSpec(corrupt=2.0), seed=4)
    changed = 0
    for tick in range(TICKS):
        for original, sent in zip(tick_batch(tick), outputs[tick], strict=True):
            assert sent.key == original.key and len(sent.value) == len(original.value)
            flipped = sum(a != b for a, b in zip(sent.value, original.value, strict=True))
            assert flipped <= 3
            changed += flipped > 0
    assert changed == chaos.counts.corrupted
    assert within_5_sigma(changed, DRONES * TICKS, 2.0)


def test_skew_moves_only_the_fix_time_within_the_bound() -> None:
    spec = ChaosSpec(skew=5.0, max_skew_s=60.0)
    chaos, outputs = run(spec, seed=5, ticks=20)
    skewed = 0
    for tick in range(20):
        for original, sent in zip(tick_batch(tick), outputs[tick], strict=True):
            if sent == original:
                continue
            skewed += 1
            before = decode_as(original.value, TelemetryReported)
            after = decode_as(sent.value, TelemetryReported)
            shift = abs((after.occurred_at - before.occurred_at).total_seconds())
            assert 1.0 <= shift <= 60.0
            assert after.recorded_at == before.recorded_at and after.event_id == before.event_id
            assert (after.lat, after.lon, after.sequence) == (
                before.lat,
                before.lon,
                before.sequence,
            )
    assert skewed == chaos.counts.skewed
    assert within_5_sigma(skewed, DRONES * 20, 5.0)


def test_reordered_fixes_arrive_late_by_at_most_the_window() -> None:
    spec = ChaosSpec(reorder=4.0, reorder_window=3)
    chaos, outputs = run(spec, seed=6)
    sent = [r for batch in outputs for r in batch]
    assert sorted(sent) == sorted(r for t in range(TICKS) for r in tick_batch(t)), "none lost"
    late = 0
    for tick, batch in enumerate(outputs[:TICKS]):
        for record in batch:
            made = decode_as(record.value, TelemetryReported).sequence - 1
            assert 0 <= tick - made <= 3
            late += tick > made
    late += len(outputs[TICKS])  # still held at the end, sent by flush()
    assert late == chaos.counts.reordered
    assert within_5_sigma(late, DRONES * TICKS, 4.0)
    overtaken = 0
    last_seen: dict[bytes, int] = {}
    for record in sent:
        sequence = decode_as(record.value, TelemetryReported).sequence
        overtaken += sequence < last_seen.get(record.key, 0)
        last_seen[record.key] = max(sequence, last_seen.get(record.key, 0))
    assert overtaken > 0.9 * late, "a drone's later fixes overtake the held one"


def test_with_cohorts_a_held_fix_is_still_overtaken_by_its_drones_next_fixes() -> None:
    cohorts = 4
    chaos = Chaos(ChaosSpec(reorder=10.0, reorder_window=2), TOPICS.telemetry.name, 3, cohorts)
    sent: list[WireRecord] = []
    for tick in range(TICKS):
        fleet = tick_batch(tick)
        for index in range(cohorts):
            sent += chaos.apply(fleet[index::cohorts])
    sent += chaos.flush()
    assert sorted(sent) == sorted(r for t in range(TICKS) for r in tick_batch(t)), "none lost"
    overtaken, last_seen = 0, {}
    for record in sent:
        sequence = decode_as(record.value, TelemetryReported).sequence
        overtaken += sequence < last_seen.get(record.key, 0)
        last_seen[record.key] = max(sequence, last_seen.get(record.key, 0))
    assert chaos.counts.reordered > 0
    assert overtaken > 0.9 * chaos.counts.reordered, "held a whole tick, not one cohort's step"


spec_strategy = st.builds(
    ChaosSpec,
    **{kind: st.floats(0.0, 100.0) for kind in KINDS},
    reorder_window=st.integers(1, 5),
)


@settings(max_examples=50, deadline=None)
@given(spec=spec_strategy, seed=st.integers(0, 2**32), layout=st.lists(st.booleans(), max_size=40))
def test_nothing_but_telemetry_is_touched(spec: ChaosSpec, seed: int, layout: list[bool]) -> None:
    chaos = Chaos(spec, TOPICS.telemetry.name, seed)
    for tick in range(3):
        batch = [
            to_wire(pickup_done(f"job-{tick}-{i}", f"drone-{i}"), TOPICS)
            if is_command
            else to_wire(fix(f"drone-{i}", seq=tick + 1), TOPICS)
            for i, is_command in enumerate(layout)
        ]
        commands = [r for r in batch if r.topic != TOPICS.telemetry.name]
        out = chaos.apply(batch)
        assert [r for r in out if r.topic != TOPICS.telemetry.name] == commands
        assert all(decode_command(r.value) for r in commands)
    assert all(r.topic == TOPICS.telemetry.name for r in chaos.flush())
    assert chaos.counts.seen == 3 * layout.count(False)


def test_the_same_seed_gives_the_same_chaos() -> None:
    spec = ChaosSpec.parse("drop=5,duplicate=5,reorder=5,corrupt=5,skew=5")
    assert run(spec, seed=7, ticks=10)[1] == run(spec, seed=7, ticks=10)[1]
    assert run(spec, seed=7, ticks=10)[1] != run(spec, seed=8, ticks=10)[1]


def test_no_chaos_is_inactive_and_changes_nothing() -> None:
    spec = ChaosSpec.parse("")
    assert not spec.active
    _, outputs = run(spec, ticks=3)
    assert outputs[:3] == [tick_batch(t) for t in range(3)] and outputs[3] == []


@pytest.mark.parametrize(
    "text", ["drop", "drop=x", "lose=1", "drop=101", "skew=-1", "drop=1;duplicate=2"]
)
def test_a_bad_chaos_option_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="chaos"):
        ChaosSpec.parse(text)
