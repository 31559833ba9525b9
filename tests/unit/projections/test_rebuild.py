"""The rebuild's progress figures: percentages of the end offsets and rates."""

from __future__ import annotations

from projections.rebuild import Progress, _reporter


def test_progress_line_gives_share_and_rate() -> None:
    progress = Progress("replay", 50_000, 200_000, 2.0)
    assert progress.percent == 25.0
    assert progress.events_per_s == 25_000.0
    assert progress.line() == "replay: 50,000/200,000 events (25.0%) at 25,000 events/s"


def test_nothing_to_read_is_complete() -> None:
    assert Progress("catch-up", 0, 0, 0.0).percent == 100.0
    assert Progress("catch-up", 0, 0, 0.0).events_per_s == 0.0


def test_reporter_throttles_but_always_reports_the_end() -> None:
    seen: list[Progress] = []
    report = _reporter("replay", seen.append, interval_s=3600.0)
    report(10, 100)
    report(20, 100)  # within the interval: dropped
    report(100, 100)  # the end: always shown
    assert [p.done for p in seen] == [10, 100]
