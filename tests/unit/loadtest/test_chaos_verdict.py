"""`make chaos`'s exit code: a run is clean only if nothing was lost, webhooks included."""

from __future__ import annotations

from typing import Any

from loadtest.cli import _clean


def result(**webhooks: Any) -> dict[str, Any]:
    """A scenario's result with nothing lost in the telemetry and every partition reached."""
    base: dict[str, Any] = {
        "faults": [{"silent_partitions": []}],
        "simulator": {"unservable_asked": 0, "unservable_refused_as_expected": 0},
        "deliveries": {"unservable_accepted": []},
        "figures": {"lost": 0},
    }
    return {**base, "webhooks": webhooks} if webhooks else base


def test_a_run_without_webhooks_is_judged_on_the_telemetry() -> None:
    assert _clean(result())


def test_a_webhook_lost_makes_the_run_unclean_though_no_fix_was() -> None:
    assert _clean(result(clean=True, lost=0))
    assert not _clean(result(clean=False, lost=1))
