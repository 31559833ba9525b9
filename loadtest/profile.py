"""Sampling profiles of the platform's processes during a benchmark window (py-spy).

`py-spy record --format raw` writes collapsed stacks (`frame;frame;... count`); the
summary ranks functions by the share of samples in which they are on the stack
(inclusive) and by the share in which they are the leaf (self), which is where the
time of a CPU-bound process goes.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Profiler:
    """py-spy recorders attached to some processes for `seconds`."""

    out: Path
    seconds: float
    rate: int = 50
    _running: list[tuple[str, subprocess.Popen[bytes], Path]] | None = None

    @staticmethod
    def executable() -> str | None:
        """py-spy on the PATH, or next to this Python (the virtualenv, not activated)."""
        beside = Path(sys.executable).with_name("py-spy")
        return shutil.which("py-spy") or (str(beside) if beside.exists() else None)

    @staticmethod
    def available() -> bool:
        """Whether py-spy is installed."""
        return Profiler.executable() is not None

    def start(self, pids: dict[str, int]) -> None:
        """Start one recorder per process."""
        self.out.mkdir(parents=True, exist_ok=True)
        self._running = []
        for name, pid in pids.items():
            target = self.out / f"{name}.collapsed.txt"
            process = subprocess.Popen(
                [
                    Profiler.executable() or "py-spy",
                    "record",
                    "--pid",
                    str(pid),
                    "--duration",
                    str(int(self.seconds)),
                    "--rate",
                    str(self.rate),
                    "--format",
                    "raw",
                    "--nonblocking",
                    "--output",
                    str(target),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            self._running.append((name, process, target))

    def finish(self, top: int = 12) -> dict[str, list[tuple[str, float, float]]]:
        """Wait for the recorders; per process, the top functions (name, self %, total %)."""
        summaries = {}
        for name, process, target in self._running or []:
            try:
                process.wait(timeout=self.seconds + 30)
            except subprocess.TimeoutExpired:
                process.kill()
                continue
            if target.exists():
                summaries[name] = top_functions(target.read_text(), top)
        return summaries


def top_functions(collapsed: str, top: int) -> list[tuple[str, float, float]]:
    """(function, self %, inclusive %) of the `top` functions by self time."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    if total == 0:
        return []
    return [
        (frame, round(100.0 * n / total, 1), round(100.0 * inclusive[frame] / total, 1))
        for frame, n in own.most_common(top)
    ]
