"""The runner's clock: real time, or with `--speedup`, a compressed past that ends now.

Why a compressed past and not a clock that runs ahead: the platform refuses fixes from
the future (the gate's skew tolerance is 5 s) and fixes older than an hour. A run of D
wall seconds at speed-up k covers D x k simulated seconds. Starting the simulated clock
at now - D x (k - 1) and running it k times faster, it meets the real clock exactly at
the end of the run and is behind it before, so every fix is accepted as a fix from the
recent past, and consecutive fixes are the telemetry interval apart in simulated time
(the gate's speed check sees real speeds). Pure: the caller passes the readings.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

MAX_BEHIND_S = 3000.0
"""How far the simulated clock may start behind the real one: the gate refuses fixes
older than an hour (`streams.domain.validation.ValidationPolicy.max_age`); keep a margin."""


def speedup_error(speedup: float, duration_s: float) -> str | None:
    """Why this speed-up cannot run, in words for the CLI; None when it can."""
    if speedup < 1:
        return f"--speedup must be at least 1 (got {speedup:g})"
    if speedup == 1:
        return None
    if duration_s <= 0:
        return "--speedup needs a --duration: the simulated past is laid out to end now"
    behind = duration_s * (speedup - 1)
    # The tolerance: the longest duration this error suggests, MAX_BEHIND_S / (k - 1),
    # multiplied back by (k - 1) in floating point can land a few ulps over the limit.
    if behind > MAX_BEHIND_S + 1e-6:
        longest = MAX_BEHIND_S / (speedup - 1)
        return (
            f"--speedup {speedup:g} for {duration_s:g} s would start {behind:.0f} s in the"
            f" past, and the platform refuses fixes older than an hour; at this speed-up"
            f" run at most {longest:.0f} s"
        )
    return None


@dataclass(frozen=True, slots=True)
class SimClock:
    """Simulated time as a function of the monotonic clock."""

    origin: datetime
    """Simulated time at `mono_origin`."""
    mono_origin: float
    speedup: float = 1.0

    @classmethod
    def starting(
        cls, wall_now: datetime, mono_now: float, speedup: float, duration_s: float
    ) -> SimClock:
        """A clock whose simulated time reaches `wall_now + duration_s` at the run's end."""
        behind = timedelta(seconds=duration_s * (speedup - 1)) if speedup > 1 else timedelta()
        return cls(wall_now - behind, mono_now, speedup)

    def now(self, mono_now: float) -> datetime:
        """Simulated time at this monotonic reading."""
        return self.origin + timedelta(seconds=self.speedup * (mono_now - self.mono_origin))

    def wall_seconds(self, simulated_s: float) -> float:
        """How long `simulated_s` of simulated time lasts in real time."""
        return simulated_s / self.speedup
