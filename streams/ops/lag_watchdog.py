"""Consumer lag per partition, and a watchdog for partitions that stopped moving. Pure.

Faust users hit stuck partitions after rebalances: the worker looks alive, but one
partition's committed offset stops while records keep arriving. The watchdog compares
snapshots of (committed offset, end offset) over time and reports every partition that
has lag and made no progress for `stuck_after`. It reads only what Kafka knows about the
consumer group, so it works for any group (the stream workers, the projection sink).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True, order=True)
class PartitionLag:
    """One partition of a group: how far its committed offset is behind the end."""

    topic: str
    partition: int
    committed: int | None
    end: int

    @property
    def lag(self) -> int:
        """Records not yet committed by the group (all of them when nothing was)."""
        return max(self.end - (self.committed or 0), 0)


def snapshot(
    committed: Mapping[tuple[str, int], int | None], ends: Mapping[tuple[str, int], int]
) -> list[PartitionLag]:
    """Lag of every partition with an end offset, sorted by topic and partition."""
    return sorted(
        PartitionLag(topic, partition, committed.get((topic, partition)), end)
        for (topic, partition), end in ends.items()
    )


@dataclass
class Watchdog:
    """Remembers since when each lagging partition has sat at its committed offset."""

    stuck_after: timedelta = timedelta(seconds=60)
    _since: dict[tuple[str, int], tuple[int | None, datetime]] = field(default_factory=dict)

    def observe(self, partitions: Iterable[PartitionLag], now: datetime) -> list[PartitionLag]:
        """The partitions with lag whose committed offset has not moved for `stuck_after`."""
        stuck = []
        for p in partitions:
            key = (p.topic, p.partition)
            seen = self._since.get(key)
            if p.lag == 0 or seen is None or seen[0] != p.committed:
                self._since[key] = (p.committed, now)
                continue
            if now - seen[1] >= self.stuck_after:
                stuck.append(p)
        return stuck
