"""The ETA: the time of the route left, leg by leg, with the phases left at each stop.

Pure. A leg is a climb to cruise altitude, the horizontal flight (speeding up from rest,
cruising, braking onto the stop: `contracts.eta.horizontal_s`), and a descent onto the
stop; at the stop the drone dwells. Before pickup the legs left are drone -> pickup and
pickup -> drop-off; after pickup, drone -> drop-off. The current leg flies at the
drone's smoothed ground speed (which carries the wind on its heading) once it cruises;
while it climbs, hovers or lands, and for legs not begun, at cruise speed. A drone
hovering or landed at a stop has part of its dwell behind it.

The distances are the route's when the caller gives them (`streams.domain.route`: around
the no-fly zones, issue 19), the straight lines otherwise; with no zone in the way the
two are the same number.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from contracts import DeliveryStatus, GeoPoint, TrackingStatus
from contracts.eta import FlightProfile
from streams.domain.geodesy import distance_m

BEFORE_PICKUP: frozenset[DeliveryStatus | TrackingStatus] = frozenset(
    {"requested", "assigned", "en_route_to_pickup"}
)
ON_STOP_M = 20.0
"""Closer than this to its stop, a drone is braking onto it or descending over it (what
is left of its altitude is the descent's), not climbing at the start of its leg."""


@dataclass(frozen=True, slots=True)
class EtaModel(FlightProfile):
    """The flight profile the ETA assumes (`contracts.eta`, the quote's too), and more.

    What the ETA adds: how it tells a cruising drone from its smoothed speed.
    """

    min_speed_fraction: float = 0.5
    """Below this fraction of cruise speed the drone is not cruising yet (or any more)."""
    smoothing: float = 0.3


@dataclass(frozen=True, slots=True)
class LegTimes:
    """The route still to fly, timed leg by leg in the estimated wind (`streams.domain.wind`)."""

    current_m: float
    """From the drone to the point it flies towards (the leg it is on)."""
    current_s: float
    """That leg at the wind's ground speed (used until the drone cruises)."""
    rest_s: float
    """From that point to the current stop (pickup, or drop-off)."""
    after_stop_s: float
    """From the pickup to the drop-off; 0 after the pickup."""


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
    status: DeliveryStatus | TrackingStatus,
    position: GeoPoint,
    altitude_m: float,
    pickup: GeoPoint,
    dropoff: GeoPoint,
    smoothed_speed_mps: float,
    observed_at: datetime,
    model: EtaModel,
    *,
    at_stop: bool = False,
    dwell_elapsed_s: float = 0.0,
    to_stop_m: float | None = None,
    after_stop_m: float | None = None,
    legs: LegTimes | None = None,
) -> Eta:
    """ETA at the drop-off for a drone at `position` and `altitude_m`, fix time `observed_at`.

    `at_stop`: the drone is landed or hovering at its current stop (pickup before the
    pickup, drop-off after), where it has dwelled `dwell_elapsed_s` already.
    `to_stop_m`, `after_stop_m`: the route's length from `position` to the current stop
    and from the pickup to the drop-off (`streams.domain.route.progress`); the straight
    lines when not given. `legs`: the cruise times in the estimated wind (None: no
    estimate, the cruise airspeed).
    """
    if status in ("delivered", "cancelled"):
        return Eta(remaining_m=0.0, seconds=0.0, at=observed_at)
    before_pickup = status in BEFORE_PICKUP
    stop = pickup if before_pickup else dropoff
    dwell = model.pickup_dwell_s if before_pickup else model.dropoff_dwell_s
    to_stop = distance_m(position, stop) if to_stop_m is None else max(to_stop_m, 0.0)
    if at_stop:
        current_leg_s = 0.0
        dwell = max(dwell - dwell_elapsed_s, 0.0)
    else:
        cruising = smoothed_speed_mps >= model.cruise_speed_mps * model.min_speed_fraction
        if legs is None:
            speed = smoothed_speed_mps if cruising else model.cruise_speed_mps
            cruise_s = to_stop / speed
        else:
            current_s = legs.current_m / smoothed_speed_mps if cruising else legs.current_s
            cruise_s = current_s + legs.rest_s
        # The speeding up left (none once it cruises) and the braking onto the stop, at
        # the mean ground speed of what is left (`contracts.eta.horizontal_s`).
        mean_mps = to_stop / cruise_s if cruise_s > 0.0 else model.cruise_speed_mps
        start_mps = mean_mps if cruising else smoothed_speed_mps
        flight_s = model.horizontal_s(to_stop, mean_mps, start_mps)
        if to_stop < ON_STOP_M:  # braking onto the stop, or over it and descending
            current_leg_s = flight_s + model.descent_s(altitude_m)
        else:
            current_leg_s = model.climb_s(altitude_m) + flight_s + model.descent_s()
    seconds = current_leg_s + dwell
    remaining = to_stop
    if before_pickup:
        last_leg = distance_m(pickup, dropoff) if after_stop_m is None else max(after_stop_m, 0.0)
        last_leg_s = model.leg_s(last_leg, None if legs is None else legs.after_stop_s)
        seconds += last_leg_s + model.dropoff_dwell_s
        remaining += last_leg
    return Eta(remaining_m=remaining, seconds=seconds, at=observed_at + timedelta(seconds=seconds))
