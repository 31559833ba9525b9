"""The simulator's clock under `--speedup`: a compressed past that the gate accepts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from simulator.world.clock import MAX_BEHIND_S, SimClock, speedup_error

pytestmark = pytest.mark.unit

WALL = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def test_real_time_is_the_wall_clock() -> None:
    clock = SimClock.starting(WALL, 100.0, 1.0, 0.0)
    assert clock.now(100.0) == WALL
    assert clock.now(130.5) == WALL + timedelta(seconds=30.5)
    assert clock.wall_seconds(1.0) == 1.0


def test_a_sped_up_run_ends_on_the_wall_clock_and_ticks_faster() -> None:
    clock = SimClock.starting(WALL, 0.0, 10.0, 60.0)
    assert clock.now(0.0) == WALL - timedelta(seconds=540)
    assert clock.now(1.0) - clock.now(0.0) == timedelta(seconds=10)
    assert clock.now(60.0) == WALL + timedelta(seconds=60)
    assert clock.wall_seconds(1.0) == 0.1


@example(speedup=46.29214979353923, fraction=1.0, elapsed=0.0)  # rounded over the limit
@given(
    speedup=st.floats(min_value=1.01, max_value=100.0),
    fraction=st.floats(min_value=0.001, max_value=1.0),
    elapsed=st.floats(min_value=0.0, max_value=1.0),
)
def test_an_accepted_run_never_stamps_the_future_nor_older_than_allowed(
    speedup: float, fraction: float, elapsed: float
) -> None:
    duration = fraction * MAX_BEHIND_S / (speedup - 1)
    assert speedup_error(speedup, duration) is None
    clock = SimClock.starting(WALL, 0.0, speedup, duration)
    t = duration * elapsed
    behind = (WALL + timedelta(seconds=t) - clock.now(t)).total_seconds()
    assert -1e-3 <= behind <= MAX_BEHIND_S + 1e-3


@pytest.mark.parametrize(
    ("speedup", "duration", "says"),
    [
        (0.5, 60.0, "at least 1"),
        (10.0, 0.0, "needs a --duration"),
        (11.0, 600.0, "at most 300 s"),
    ],
)
def test_impossible_speedups_are_refused_with_the_reason(
    speedup: float, duration: float, says: str
) -> None:
    error = speedup_error(speedup, duration)
    assert error is not None and says in error


def test_possible_speedups_pass() -> None:
    assert speedup_error(1.0, 0.0) is None
    assert speedup_error(10.0, 300.0) is None
