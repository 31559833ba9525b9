"""Speed laws of the cruise controller, vectorized over the fleet. Pure.

The controller commands a ground speed: the cruise airspeed corrected for the wind
(crab into the crosswind, add the along-track component), capped by the speed from
which the drone can still stop exactly on its point with its deceleration limit.
"""

from __future__ import annotations

import numpy as np

from simulator.flight.geo import FloatArray
from simulator.flight.spec import FlightSpec


def cruise_ground_speed(
    spec: FlightSpec, ux: FloatArray, uy: FloatArray, wind_east: FloatArray, wind_north: FloatArray
) -> FloatArray:
    """Ground speed along the unit track (ux east, uy north) when flying at cruise airspeed.

    The drone crabs so that its track stays on the route: the crosswind eats part of the
    airspeed, the along-track wind adds to (or takes from) what is left.
    """
    along = wind_east * ux + wind_north * uy
    cross = wind_north * ux - wind_east * uy
    air = spec.cruise_speed_mps
    speed = np.sqrt(np.maximum(air * air - cross * cross, 0.0)) + along
    clipped: FloatArray = np.clip(speed, spec.min_ground_speed_mps, spec.max_ground_speed_mps)
    return clipped


def brake_speed(remaining_m: FloatArray, deceleration: float, dt: float) -> FloatArray:
    """The highest speed from which fixed steps of `dt` can still stop within `remaining_m`.

    In discrete time a drone flying v, v - a dt, v - 2 a dt, ... covers
    v^2 / (2 a) + v dt / 2 before it stops; solving that for v gives this bound. It is
    self-consistent: flying it for one step leaves exactly the bound minus a dt, so a
    drone following it never brakes harder than `deceleration` and reaches the point
    at a speed of at most a dt.
    """
    a_dt = deceleration * dt
    result: FloatArray = a_dt * (np.sqrt(0.25 + 2.0 * remaining_m / (a_dt * dt)) - 0.5)
    return result
