"""The retry schedule (`notifier.backoff`): one wait per failure, jittered, then the end."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from notifier.backoff import retry_delay_s
from notifier.settings import HOURS_OF_RETRIES

SCHEDULE = (1.0, 10.0, 100.0)


def test_each_failure_waits_its_step_and_the_last_retrys_failure_ends_it() -> None:
    waits = [retry_delay_s(SCHEDULE, n, 0.0) for n in range(1, 5)]
    assert waits == [1.0, 10.0, 100.0, None]


@given(
    failures=st.integers(1, len(SCHEDULE)),
    jitter=st.floats(0.0, 1.0),
    seed=st.integers(0, 2**32),
)
def test_jitter_stays_within_its_fraction(failures: int, jitter: float, seed: int) -> None:
    wait = retry_delay_s(SCHEDULE, failures, jitter, random.Random(seed))
    base = SCHEDULE[failures - 1]
    assert wait is not None
    assert base * (1 - jitter) - 1e-9 <= wait <= base * (1 + jitter) + 1e-9


def test_jitter_spreads_the_retries_of_one_outage() -> None:
    draw = random.Random(7)
    waits = {retry_delay_s(SCHEDULE, 2, 0.2, draw) for _ in range(100)}
    assert len(waits) > 90


def test_the_default_schedule_grows_and_spans_about_a_day() -> None:
    assert list(HOURS_OF_RETRIES) == sorted(HOURS_OF_RETRIES)
    assert 20 * 3600 < sum(HOURS_OF_RETRIES) < 30 * 3600


def test_no_delay_before_a_failure() -> None:
    with pytest.raises(ValueError, match="follows a failure"):
        retry_delay_s(SCHEDULE, 0, 0.0)
