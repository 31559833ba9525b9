"""Consumer-group offsets over time, and the recovery time of a fault read from them.

A background thread samples, about once a second, every partition's committed offset
of the watched groups and its end offset (`streams.ops.lag_report.group_lag`). Recovery
after a fault is then a pure question on that series: once the hurt part is back, when
has the group committed everything that had been produced by then? That includes the
commit interval (Faust's 2.8 s for the dispatcher; the batched stages commit after every
batch) and the 1 s sampling: a healthy group "recovers" from a no-op in about 1 to 4 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from dataclasses import dataclass, field

import psycopg

from contracts import TopicSpec
from kafkaio.offsets import Offsets, end_offsets
from streams.ops.lag_report import group_lag
from streams.ops.lag_watchdog import PartitionLag


@dataclass(frozen=True, slots=True)
class Sample:
    """One look at a group: when, committed and end offset per partition."""

    at: float
    committed: Offsets
    end: Offsets

    @property
    def lag(self) -> int:
        """Records produced and not yet committed, over all partitions."""
        return sum(max(e - self.committed.get(tp, 0), 0) for tp, e in self.end.items())


def to_sample(at: float, partitions: list[PartitionLag]) -> Sample:
    """A sample from `group_lag`'s answer."""
    return Sample(
        at,
        {(p.topic, p.partition): p.committed or 0 for p in partitions},
        {(p.topic, p.partition): p.end for p in partitions},
    )


def recovery_s(samples: list[Sample], back_at: float) -> float | None:
    """Seconds from `back_at` until the group committed all that was produced by then.

    "Produced by then" is read from the first sample taken at or after `back_at` (its
    end offsets). None when there is no such sample or the group never got there.
    """
    after = [s for s in samples if s.at >= back_at]
    if not after:
        return None
    target = after[0].end
    for sample in after:
        if all(sample.committed.get(tp, 0) >= end for tp, end in target.items()):
            return round(sample.at - back_at, 1)
    return None


@dataclass
class LagWatch:
    """Samples the given consumer groups in a background thread until stopped."""

    bootstrap: str
    groups: list[str]
    every_s: float = 1.0
    series: dict[str, list[Sample]] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> LagWatch:
        self.series = {group: [] for group in self.groups}
        self._thread = threading.Thread(target=self._run, name="lagwatch", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _run(self) -> None:
        asyncio.run(self._loop())

    async def _loop(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            for group in self.groups:
                # The broker may be down on purpose: a missing sample is the answer then.
                with contextlib.suppress(Exception):
                    partitions = await asyncio.wait_for(group_lag(self.bootstrap, group), 5.0)
                    self.series[group].append(to_sample(time.monotonic(), partitions))
            await asyncio.sleep(max(self.every_s - (time.monotonic() - started), 0.05))

    def latest(self, group: str) -> Sample | None:
        """The newest sample of a group."""
        samples = self.series.get(group) or []
        return samples[-1] if samples else None


async def lag_now(bootstrap: str, group: str, topics: list[TopicSpec]) -> int:
    """Records of `topics` the group has not committed.

    A partition it never committed on counts in full: `group_lag` alone leaves it out
    and reports no lag, which once ended a drain before the dead letters were written.
    """
    lagging = await group_lag(bootstrap, group)
    committed = {(p.topic, p.partition): p.committed or 0 for p in lagging}
    ends = await end_offsets(bootstrap, _partitions(topics))
    return sum(max(end - committed.get(tp, 0), 0) for tp, end in ends.items())


def wait_drained(
    bootstrap: str, groups: dict[str, list[TopicSpec]], timeout_s: float
) -> dict[str, int]:
    """Wait until every group has committed its topics up to the end; return what remained."""
    deadline = time.monotonic() + timeout_s
    lags: dict[str, int] = {}
    while True:
        for group, topics in groups.items():
            try:
                lags[group] = asyncio.run(lag_now(bootstrap, group, topics))
            except Exception:  # a broker hiccup: look again
                lags[group] = -1
        if all(lag == 0 for lag in lags.values()) or time.monotonic() > deadline:
            return lags
        time.sleep(1.0)


def wait_checkpoints(bootstrap: str, dsn: str, topics: list[TopicSpec], timeout_s: float) -> int:
    """Wait until the sink's database checkpoints reach the topics' end offsets.

    The database, not the group's committed offsets, is the sink's truth (it commits to
    Kafka for lag tools only). Returns the records still missing when done or timed out
    (0: caught up).
    """
    deadline = time.monotonic() + timeout_s
    while True:
        ends = asyncio.run(end_offsets(bootstrap, _partitions(topics)))
        with psycopg.connect(dsn) as conn:
            rows = conn.execute(
                "SELECT topic, partition, next_offset FROM projection_checkpoints"
            ).fetchall()
        stored = {(str(t), int(p)): int(o) for t, p, o in rows}
        missing = sum(max(end - stored.get(tp, 0), 0) for tp, end in ends.items())
        if missing == 0 or time.monotonic() > deadline:
            return missing
        time.sleep(1.0)


def _partitions(topics: list[TopicSpec]) -> list[tuple[str, int]]:
    return [(t.name, p) for t in topics for p in range(t.partitions)]
