"""The ETA's window (`streams.domain.eta_window`, issue 19 part 4): a prior from the
measured errors, left after a few arrivals for the errors learned by lead, 80 % of fresh
arrivals inside it when the future errs like the past."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.domain.eta_window import (
    MAX_SAMPLED_LEAD_S,
    PRIOR_ARRIVALS,
    SAMPLE_EVERY_S,
    EtaWindow,
    band,
    prior_bounds,
)
from tests.support.factories import T0, tracking


def fly(
    learner: EtaWindow, delivery_id: str, lead_s: float, error_s: float, every_s: float = 1.0
) -> None:
    """A delivery tracked from `lead_s` before its ETA to arrival, one update each `every_s`,
    every ETA `error_s` off the arrival (+: promised late, -: promised too early)."""
    arrival = T0 + timedelta(seconds=lead_s - error_s)
    sequence = 1
    at_s = 0.0
    while at_s < lead_s - error_s:
        at = T0 + timedelta(seconds=at_s)
        learner.observe(
            tracking(delivery_id, sequence, at, eta_in=arrival - at + timedelta(seconds=error_s))
        )
        sequence += 1
        at_s += every_s
    learner.observe(tracking(delivery_id, sequence, arrival, status="delivered", eta_in=None))


def bounds_s(learner: EtaWindow, lead_s: float) -> tuple[float, float]:
    """The window around an ETA `lead_s` ahead, as seconds from the ETA (earliest, latest)."""
    eta = T0 + timedelta(seconds=lead_s)
    earliest, latest = learner.window(eta, T0) or (eta, eta)
    return (earliest - eta).total_seconds(), (latest - eta).total_seconds()


def test_before_any_arrival_the_window_is_the_prior_from_the_measured_errors() -> None:
    learner = EtaWindow()
    low, high = prior_bounds(300.0)
    assert bounds_s(learner, 300.0) == pytest.approx((-high, -low))
    # The prior at 5 minutes is about +/- 11 s of error (module doc: the measured errors).
    assert -12.0 < low < -10.0 and 10.0 < high < 12.0
    assert learner.window(None, T0) is None


def test_the_prior_is_left_after_a_few_arrivals() -> None:
    learner = EtaWindow()
    fly(learner, "d0", 300.0, 40.0)  # every ETA 40 s late: far outside the prior
    once = bounds_s(learner, 300.0)
    for n in range(1, 30):
        fly(learner, f"d{n}", 300.0, 40.0)
    learned = bounds_s(learner, 300.0)
    prior = bounds_s(EtaWindow(), 300.0)
    # After one arrival a quarter learned (weight 1 / (1 + 3)); after 30, 91 %.
    assert PRIOR_ARRIVALS == 3.0
    assert learned[1] < once[1] < prior[1]
    # Learned relative to the lead (40 s is 13 to 18 % of the 225-315 s of lead + floor
    # of the band's samples), then scaled to the 315 s of this lead: about -50 to -36 s.
    assert -55.0 < learned[0] <= learned[1] < -32.0


def test_a_delivery_is_sampled_once_per_ten_seconds_of_lead() -> None:
    learner = EtaWindow()
    fly(learner, "d1", 300.0, 0.0, every_s=1.0)  # 300 updates
    assert sum(learner.learned()) == len({band(lead) for lead in range(1, 301)})
    kept = learner._bands[band(300.0)]
    sampled = sum(len(errors) for errors in kept.arrivals)
    assert sampled == len(range(210, 300, int(SAMPLE_EVERY_S))) + 1  # 210..290 s, and 300
    assert learner.in_flight() == 0


def test_cancelled_and_failed_deliveries_teach_nothing_and_are_forgotten() -> None:
    learner = EtaWindow()
    for n, end in enumerate(("cancelled", "failed")):
        learner.observe(tracking(f"d{n}", 1, T0, eta_in=timedelta(seconds=300)))
        learner.observe(tracking(f"d{n}", 2, T0, status=end, eta_in=None))
    assert learner.in_flight() == 0 and sum(learner.learned()) == 0


def test_memory_is_bounded_by_the_deliveries_tracked_and_the_errors_kept() -> None:
    learner = EtaWindow(kept=100, tracked=5)
    for n in range(8):  # none arrives: the oldest are forgotten beyond 5
        learner.observe(tracking(f"lost{n}", 1, T0, eta_in=timedelta(seconds=300)))
    assert learner.in_flight() == 5
    for n in range(20):
        fly(learner, f"d{n}", 300.0, 0.0)
    kept = learner._bands[band(250.0)]
    assert kept.count <= 100 + 10  # one arrival over at most: whole arrivals are dropped
    assert sum(len(errors) for errors in kept.arrivals) == kept.count
    before = learner.in_flight()
    far = tracking("far", 1, T0, eta_in=timedelta(seconds=MAX_SAMPLED_LEAD_S + 1))
    learner.observe(far)
    assert learner.in_flight() == before  # not sampled: too far ahead


def test_about_80_percent_of_fresh_arrivals_fall_inside_a_learned_window() -> None:
    """Errors drawn from a known distribution (each delivery's own bias, normal, plus
    noise along the flight): the window covers 80 % of fresh draws, ± 5 %."""
    rng = random.Random(19)
    learner = EtaWindow()

    def error_s() -> float:
        return rng.gauss(-3.0, 12.0)

    for n in range(200):
        fly(learner, f"learn{n}", 330.0, error_s(), every_s=10.0)
    low, high = bounds_s(learner, 300.0)
    draws = [error_s() for _ in range(4_000)]
    inside = sum(low <= -e <= high for e in draws)  # arrival = ETA - error
    assert 0.75 <= inside / len(draws) <= 0.85


@given(
    lead=st.floats(0, 3_000),
    errors=st.lists(st.floats(-300, 300), min_size=1, max_size=8),
)
def test_the_window_is_never_inverted_nor_before_its_fix(lead: float, errors: list[float]) -> None:
    learner = EtaWindow()
    for n, error in enumerate(errors):
        fly(learner, f"d{n}", lead + error + 30.0, error, every_s=7.0)
    eta = T0 + timedelta(seconds=lead)
    earliest, latest = learner.window(eta, T0) or (None, None)
    assert earliest is not None and latest is not None
    assert T0 <= earliest <= latest


@given(lead=st.floats(70, 3_000), fraction=st.floats(0.01, 0.5), count=st.integers(2, 6))
def test_the_window_contains_the_eta_when_the_learned_errors_straddle_zero(
    lead: float, fraction: float, count: int
) -> None:
    """Deliveries promised late and early by up to half the lead, so both kinds give ETAs
    at this lead. From 70 s of lead, where the prior straddles zero too (below it the
    prior is the measured -2 s of braking: a window wholly after the ETA, as measured)."""
    spread = fraction * lead
    learner = EtaWindow()
    for n in range(count):
        error = spread if n % 2 else -spread
        fly(learner, f"d{n}", lead + spread + 30.0, error, every_s=5.0)
    eta = T0 + timedelta(seconds=lead)
    earliest, latest = learner.window(eta, T0) or (None, None)
    assert earliest is not None and latest is not None
    assert earliest <= eta <= latest
