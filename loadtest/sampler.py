"""CPU and memory per process group (a service with its children), sampled with psutil.

CPU is accounted as CPU seconds consumed between the first and the last sample, per
group, including children born in between (PostgreSQL forks a backend per connection),
divided by the wall time: 100 % is one core busy. Memory is the largest resident set
seen, summed over the group (for PostgreSQL that counts shared buffers once per process
touching them, so it is an upper bound).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import psutil


@dataclass
class _Group:
    cpu_s: float = 0.0
    last: dict[int, float] = field(default_factory=dict)
    max_rss: int = 0


@dataclass
class ProcessSampler:
    """Samples the groups returned by `roots()` (name -> root pid) every `every_s`."""

    roots: Callable[[], dict[str, int]]
    every_s: float = 1.0
    groups: dict[str, _Group] = field(default_factory=dict)
    started: float = 0.0
    ended: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> ProcessSampler:
        self.started = time.monotonic()
        self.sample()
        self._thread = threading.Thread(target=self._run, name="sampler", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.sample()
        self.ended = time.monotonic()

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            self.sample()

    def sample(self) -> None:
        """Add each group's CPU time since the last sample; track its resident memory."""
        for name, pid in self.roots().items():
            group = self.groups.setdefault(name, _Group())
            first = not group.last
            rss = 0
            for process in _tree(pid):
                try:
                    times = process.cpu_times()
                    used = times.user + times.system
                    rss += process.memory_info().rss
                except psutil.Error:
                    continue
                before = group.last.get(process.pid)
                if before is not None:
                    group.cpu_s += max(used - before, 0.0)
                elif not first:
                    group.cpu_s += used  # born since the last sample
                group.last[process.pid] = used
            group.max_rss = max(group.max_rss, rss)

    def summary(self) -> dict[str, dict[str, float]]:
        """Per group: mean CPU percent over the sampled time and peak RSS in MiB."""
        wall = max(self.ended - self.started, 1e-9)
        return {
            name: {
                "cpu_pct": round(100.0 * g.cpu_s / wall, 1),
                "max_rss_mib": round(g.max_rss / 2**20, 1),
            }
            for name, g in sorted(self.groups.items())
        }


def _tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []
