"""The flight profile's leg (`contracts.eta`): speeding up and braking, issue 19.

Exact against the closed form, computed here from the kinematics (time = distance /
speed for each constant-acceleration phase), for a leg long enough to reach the cruise
speed and one too short for it; never negative and growing with the distance (the
quote and the ETA must never promise a longer leg sooner).
"""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from contracts.eta import FlightProfile, horizontal_s

PROFILE = FlightProfile()  # 15 m/s, 4 m/s^2 both ways, 60 m at 5 up and 4 down
CLIMB_S, DESCENT_S = 60.0 / 5.0, 60.0 / 4.0


def test_a_leg_long_enough_to_cruise_loses_the_speeding_up_and_the_braking() -> None:
    # Speeding up 0 -> 15 m/s at 4 m/s^2: 3.75 s over 28.125 m; braking the same.
    ramps_m = 2 * 15.0**2 / (2 * 4.0)
    truth = 2 * 3.75 + (1_000.0 - ramps_m) / 15.0
    assert abs(PROFILE.horizontal_s(1_000.0) - truth) < 1e-9
    assert abs(PROFILE.horizontal_s(1_000.0) - (1_000.0 / 15.0 + 3.75)) < 1e-9
    assert abs(PROFILE.leg_s(1_000.0) - (CLIMB_S + truth + DESCENT_S)) < 1e-9


def test_a_leg_too_short_to_cruise_is_a_triangle() -> None:
    # 40 m < 56.25 m: up to p and straight down again, 20 m each way (a = d), p^2 = 2 a 20.
    peak = math.sqrt(2 * 4.0 * 20.0)
    assert peak < 15.0
    assert abs(PROFILE.horizontal_s(40.0) - 2 * peak / 4.0) < 1e-9
    # Unequal rates: a = 2, d = 8 over 50 m; the peak splits it as d : a.
    up_m = 50.0 * 8.0 / (2.0 + 8.0)
    peak = math.sqrt(2 * 2.0 * up_m)
    assert abs(horizontal_s(50.0, 15.0, 2.0, 8.0) - (peak / 2.0 + peak / 8.0)) < 1e-9


def test_a_drone_already_cruising_loses_only_the_braking() -> None:
    assert abs(horizontal_s(600.0, 12.0, 4.0, 4.0, start_mps=12.0) - (50.0 + 1.5)) < 1e-9
    # Halfway up to speed: the rest of the ramp, (v - s)^2 / (2 a v), is still to lose.
    assert abs(horizontal_s(600.0, 12.0, 4.0, 4.0, start_mps=6.0) - (50.0 + 0.375 + 1.5)) < 1e-9
    # Faster than the speed assumed (a gust): taken at it, no gain and no loss.
    assert horizontal_s(600.0, 12.0, 4.0, 4.0, start_mps=20.0) == horizontal_s(
        600.0, 12.0, 4.0, 4.0, start_mps=12.0
    )
    # Too fast to stop within 2 m at 4 m/s^2 (12 m needed): brakes harder, 2 D / s.
    assert abs(horizontal_s(2.0, 12.0, 4.0, 4.0, start_mps=10.0) - 0.4) < 1e-9


def test_in_the_wind_the_losses_are_at_the_mean_ground_speed() -> None:
    # 1,200 m in 100 s of cruise: 12 m/s, so 12/8 + 12/8 s more.
    assert abs(PROFILE.leg_s(1_200.0, 100.0) - (CLIMB_S + 100.0 + 3.0 + DESCENT_S)) < 1e-9


distances = st.floats(min_value=0.0, max_value=100_000.0)
speeds = st.floats(min_value=0.5, max_value=60.0)
rates = st.floats(min_value=0.1, max_value=20.0)


@given(
    near=distances,
    further=distances,
    cruise=speeds,
    a=rates,
    d=rates,
    start=st.floats(min_value=0.0, max_value=80.0),
)
def test_never_negative_and_monotone_in_the_distance(
    near: float, further: float, cruise: float, a: float, d: float, start: float
) -> None:
    near, further = sorted((near, further))
    shorter = horizontal_s(near, cruise, a, d, start)
    longer = horizontal_s(further, cruise, a, d, start)
    assert 0.0 <= shorter <= longer + 1e-9 * max(longer, 1.0)
    assert longer >= further / cruise - 1e-9 * max(longer, 1.0)  # never above the cruise speed


@given(cruise=speeds, a=rates, d=rates, start=st.floats(min_value=0.0, max_value=80.0))
def test_continuous_where_the_triangle_meets_the_cruise(
    cruise: float, a: float, d: float, start: float
) -> None:
    s = min(start, cruise)
    border = (cruise**2 - s**2) / (2 * a) + cruise**2 / (2 * d)
    below = horizontal_s(border * (1 - 1e-9), cruise, a, d, start)
    above = horizontal_s(border * (1 + 1e-9), cruise, a, d, start)
    assert abs(above - below) < 1e-6 * max(above, 1.0)
