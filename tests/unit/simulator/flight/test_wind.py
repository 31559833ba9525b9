"""The wind field: bounded by its spec, smooth in space and time."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.flight.wind import WindField, WindSpec


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), t=st.floats(0, 86_400), x=st.floats(-8e3, 8e3))
def test_wind_is_bounded_and_smooth(seed: int, t: float, x: float) -> None:
    spec = WindSpec(speed_mps=6.0, from_deg=200.0, variation_mps=4.0)
    field = WindField(spec, np.random.default_rng(seed))
    xs = np.array([x, x + 100.0, x])
    ys = np.array([0.0, 0.0, 0.0])
    east, north = field.sample(xs, ys, t)
    later_east, later_north = field.sample(xs, ys, t + 1.0)
    speed = np.hypot(east, north)
    assert (speed <= spec.max_speed_mps + 1e-9).all()
    assert abs(east[1] - east[0]) + abs(north[1] - north[0]) < 0.5, "smooth over 100 m"
    assert abs(later_east[2] - east[2]) + abs(later_north[2] - north[2]) < 0.1, "over 1 s"
