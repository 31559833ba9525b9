"""Telemetry validation: is this fix usable? Pure; the telemetry gate dead-letters refusals.

The decoder (contracts) already refuses malformed JSON, missing fields, NaN and
coordinates out of range. This adds the checks that need context: the null island
(0, 0), fixes from the future beyond a tolerance or too old, duplicate or older
sequence numbers (a drone's latest position never moves back) and impossible speeds
between consecutive fixes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import msgspec

from contracts import GeoPoint, TelemetryReported
from streams.domain.geodesy import distance_m


@dataclass(frozen=True, slots=True)
class ValidationPolicy:
    """Tolerances of the validator."""

    max_future_skew: timedelta = timedelta(seconds=5)
    max_age: timedelta = timedelta(hours=1)
    max_speed_mps: float = 60.0


class LastFix(msgspec.Struct, frozen=True):
    """What the validator remembers of a drone: its latest accepted fix."""

    sequence: int
    observed_at: datetime
    lat: float
    lon: float


def check_fix(
    fix: TelemetryReported, last: LastFix | None, now: datetime, policy: ValidationPolicy
) -> str | None:
    """The reason the fix is refused, or None when it is valid."""
    if fix.lat == 0.0 and fix.lon == 0.0:
        return "null_island"
    if fix.occurred_at - now > policy.max_future_skew:
        return "future_timestamp"
    if now - fix.occurred_at > policy.max_age:
        return "too_old"
    if last is None:
        return None
    if fix.sequence == last.sequence:
        return "duplicate_sequence"
    if fix.sequence < last.sequence or fix.occurred_at <= last.observed_at:
        return "out_of_order"
    elapsed = (fix.occurred_at - last.observed_at).total_seconds()
    moved = distance_m(GeoPoint(last.lat, last.lon), GeoPoint(fix.lat, fix.lon))
    if moved > policy.max_speed_mps * elapsed:
        return "impossible_speed"
    return None


def remember(fix: TelemetryReported) -> LastFix:
    """The memory of an accepted fix."""
    return LastFix(fix.sequence, fix.occurred_at, fix.lat, fix.lon)
