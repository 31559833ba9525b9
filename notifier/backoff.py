"""When a failed message is tried again, and when it is given up: the retry schedule. Pure.

Exponential in spirit (the default schedule grows from seconds to hours) but a list
rather than a formula, so an operator reads the whole policy in one setting and the
tests shorten it. Each wait is jittered (uniform within +/- `jitter` of it) so that the
messages of one outage do not all retry in the same second.
"""

from __future__ import annotations

import random
from collections.abc import Sequence


def retry_delay_s(
    schedule: Sequence[float], failures: int, jitter: float, draw: random.Random | None = None
) -> float | None:
    """Seconds to wait after a message's `failures`-th failure, or None: dead-letter it.

    A message is tried once, then once after each wait of the schedule: `failures` 1 is
    followed by `schedule[0]`, and the failure after the last wait ends it.
    """
    if failures < 1:
        raise ValueError("a delay follows a failure")
    if failures > len(schedule):
        return None
    base = schedule[failures - 1]
    spread = (draw or _random).uniform(-jitter, jitter)
    return max(0.0, base * (1.0 + spread))


_random = random.Random()  # noqa: S311 -- jitter, not a secret
