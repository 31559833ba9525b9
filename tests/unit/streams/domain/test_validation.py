"""Telemetry validation: each refusal has its reason; valid fixes pass."""

from __future__ import annotations

from datetime import timedelta

import pytest

from contracts import GeoPoint
from streams.domain.validation import ValidationPolicy, check_fix, remember
from tests.support.factories import DEPOT, T0, fix

POLICY = ValidationPolicy(
    max_future_skew=timedelta(seconds=5), max_age=timedelta(hours=1), max_speed_mps=60
)


def test_a_plain_fix_is_valid() -> None:
    assert check_fix(fix(), None, T0, POLICY) is None


def test_the_next_fix_is_valid() -> None:
    last = remember(fix(seq=1))
    moved = GeoPoint(DEPOT.lat + 0.0001, DEPOT.lon)  # ~11 m in 1 s
    assert (
        check_fix(fix(seq=2, at=T0 + timedelta(seconds=1), position=moved), last, T0, POLICY)
        is None
    )


@pytest.mark.parametrize(
    ("candidate", "reason"),
    [
        (fix(position=GeoPoint(0.0, 0.0)), "null_island"),
        (fix(at=T0 + timedelta(seconds=30)), "future_timestamp"),
        (fix(at=T0 - timedelta(hours=2)), "too_old"),
    ],
)
def test_context_free_refusals(candidate: object, reason: str) -> None:
    assert check_fix(candidate, None, T0, POLICY) == reason  # type: ignore[arg-type]


def test_duplicate_sequence() -> None:
    last = remember(fix(seq=5))
    assert check_fix(fix(seq=5), last, T0, POLICY) == "duplicate_sequence"


def test_older_fix_never_moves_the_drone_back() -> None:
    last = remember(fix(seq=5, at=T0))
    assert check_fix(fix(seq=4, at=T0 - timedelta(seconds=1)), last, T0, POLICY) == "out_of_order"
    assert check_fix(fix(seq=6, at=T0 - timedelta(seconds=1)), last, T0, POLICY) == "out_of_order"


def test_impossible_speed() -> None:
    last = remember(fix(seq=1))
    far = GeoPoint(DEPOT.lat + 0.01, DEPOT.lon)  # ~1.1 km in 1 s
    assert (
        check_fix(fix(seq=2, at=T0 + timedelta(seconds=1), position=far), last, T0, POLICY)
        == "impossible_speed"
    )
