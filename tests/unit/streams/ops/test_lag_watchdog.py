"""Lag snapshots and the stuck-partition watchdog."""

from __future__ import annotations

from datetime import timedelta

from streams.ops.lag_watchdog import PartitionLag, Watchdog, snapshot
from tests.support.factories import T0


def test_snapshot_computes_lag_per_partition() -> None:
    partitions = snapshot({("t", 0): 5, ("t", 1): None}, {("t", 1): 7, ("t", 0): 5})
    assert partitions == [PartitionLag("t", 0, 5, 5), PartitionLag("t", 1, None, 7)]
    assert [p.lag for p in partitions] == [0, 7]


def test_a_partition_that_stops_moving_with_lag_is_stuck() -> None:
    watchdog = Watchdog(stuck_after=timedelta(seconds=60))
    moving, stopped = PartitionLag("t", 0, 10, 20), PartitionLag("t", 1, 3, 9)
    assert watchdog.observe([moving, stopped], T0) == []
    later = T0 + timedelta(seconds=61)
    progressed = PartitionLag("t", 0, 15, 25)
    assert watchdog.observe([progressed, stopped], later) == [stopped]


def test_an_idle_partition_without_lag_is_never_stuck() -> None:
    watchdog = Watchdog(stuck_after=timedelta(seconds=1))
    idle = PartitionLag("t", 0, 10, 10)
    watchdog.observe([idle], T0)
    assert watchdog.observe([idle], T0 + timedelta(hours=1)) == []
