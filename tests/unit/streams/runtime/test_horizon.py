"""The rebuild horizon's pure rules: which replayed records send nothing again."""

from __future__ import annotations

from streams.runtime.horizon import already_processed, raised


def test_records_below_the_horizon_were_processed_and_the_rest_not() -> None:
    horizon = {("deliveries", 0): 5}
    assert already_processed(horizon, "deliveries", 0, 4)
    assert not already_processed(horizon, "deliveries", 0, 5)
    assert not already_processed(horizon, "deliveries", 1, 0), "another partition"
    assert not already_processed({}, "deliveries", 0, 0), "no reset: everything is new"


def test_a_later_reset_raises_the_horizon_and_never_lowers_it() -> None:
    old = {("deliveries", 0): 7, ("dispatch", 0): 3}
    committed = {("deliveries", 0): 2, ("dispatch", 0): 9, ("deliveries", 1): 4}
    assert raised(old, committed) == {
        ("deliveries", 0): 7,
        ("deliveries", 1): 4,
        ("dispatch", 0): 9,
    }
