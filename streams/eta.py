"""The ETA: remaining route distance over a smoothed ground speed, plus the phases left.

Pure. Before pickup the remaining route is drone -> pickup -> drop-off and the hover at
the pickup is still ahead; after pickup it is drone -> drop-off. The speed is an
exponentially smoothed ground speed, floored at a fraction of cruise speed so that a
drone hovering or accelerating does not produce an ETA of hours.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from contracts import DeliveryStatus, GeoPoint
from streams.geodesy import distance_m


@dataclass(frozen=True, slots=True)
class EtaModel:
    """The flight parameters the ETA assumes (set from the fleet's specification)."""

    cruise_speed_mps: float = 15.0
    min_speed_fraction: float = 0.5
    pickup_dwell_s: float = 10.0
    dropoff_dwell_s: float = 10.0
    smoothing: float = 0.3


@dataclass(frozen=True, slots=True)
class Eta:
    """How far and how long until the drop-off."""

    remaining_m: float
    seconds: float
    at: datetime


def smooth_speed(previous: float | None, observed: float, model: EtaModel) -> float:
    """Exponentially weighted ground speed (the first fix starts the average)."""
    if previous is None:
        return observed
    return previous + model.smoothing * (observed - previous)


def estimate(
    status: DeliveryStatus,
    position: GeoPoint,
    pickup: GeoPoint,
    dropoff: GeoPoint,
    smoothed_speed_mps: float,
    observed_at: datetime,
    model: EtaModel,
    dwell_elapsed_s: float = 0.0,
) -> Eta:
    """ETA at the drop-off for a drone at `position`, from the fix time `observed_at`.

    `dwell_elapsed_s` is how long the drone has already hovered at the stop it is at
    (pickup before the pickup, drop-off after it): that part of the dwell is behind it.
    """
    if status in ("delivered", "cancelled"):
        return Eta(remaining_m=0.0, seconds=0.0, at=observed_at)
    speed = max(smoothed_speed_mps, model.cruise_speed_mps * model.min_speed_fraction)
    if status in ("picked_up", "en_route_to_dropoff"):
        remaining = distance_m(position, dropoff)
        dwell = max(model.dropoff_dwell_s - dwell_elapsed_s, 0.0)
    else:
        remaining = distance_m(position, pickup) + distance_m(pickup, dropoff)
        dwell = max(model.pickup_dwell_s - dwell_elapsed_s, 0.0) + model.dropoff_dwell_s
    seconds = remaining / speed + dwell
    return Eta(remaining_m=remaining, seconds=seconds, at=observed_at + timedelta(seconds=seconds))
