"""How far the stream processors are behind: consumer-group lag per topic, from Kafka.

The committed offsets of a group (Kafka's admin API) against the partitions' end
offsets, read by `kafkaio.offsets` as `dronefleet-streams lag` reads them; the dashboard
sums them per topic, which is what an operator watches, and never raises: an unreachable
broker becomes a message on the panel instead of a broken page.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass

from kafkaio.connection import Broker
from kafkaio.offsets import group_offsets


@dataclass(frozen=True, slots=True, order=True)
class TopicLag:
    """One group on one topic: records not yet committed, over its partitions."""

    group: str
    topic: str
    partitions: int
    lag: int


def summarize(
    group: str,
    committed: Mapping[tuple[str, int], int | None],
    ends: Mapping[tuple[str, int], int],
) -> list[TopicLag]:
    """Lag per topic of one group; a partition with nothing committed lags by its end."""
    totals: dict[str, tuple[int, int]] = {}
    for (topic, partition), end in ends.items():
        behind = max(end - (committed.get((topic, partition)) or 0), 0)
        count, lag = totals.get(topic, (0, 0))
        totals[topic] = (count + 1, lag + behind)
    return sorted(TopicLag(group, topic, n, lag) for topic, (n, lag) in totals.items())


async def _group_lag(bootstrap: Broker, group: str, timeout_ms: int) -> list[TopicLag]:
    committed, ends = await group_offsets(bootstrap, group, timeout_ms)
    return summarize(group, committed, ends)


@dataclass(frozen=True, slots=True)
class LagReport:
    """The lag of every group asked for, or why it could not be read."""

    topics: list[TopicLag]
    error: str | None = None


def read_lag(bootstrap: Broker, groups: list[str], timeout_s: float) -> LagReport:
    """The lag of each group per topic; on any Kafka error, the error instead."""

    async def all_groups() -> list[TopicLag]:
        found: list[TopicLag] = []
        for group in groups:
            found.extend(await _group_lag(bootstrap, group, int(timeout_s * 1000)))
        return found

    try:
        return LagReport(asyncio.run(asyncio.wait_for(all_groups(), timeout=timeout_s * 2)))
    except Exception as error:  # the panel shows it; the rest of the page keeps working
        return LagReport([], f"could not read the lag from Kafka at {bootstrap}: {error!r}")
