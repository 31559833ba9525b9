"""How the fleet flies, as every ETA counts it: one flight profile for quote and tracking.

Pure. Why in `contracts`: the API's quote at request (`api.quote`) and the stream
worker's ETA on each fix (`streams.domain.eta`) must count a leg the same way, or the
customer's first promise and the updates after it differ by construction; services share
only `contracts` (import-linter), so the profile and its leg live here rather than in
one service and a copy in the other (the `duplicates` tool found the copy).

A leg goes from the ground to the ground: a climb to cruise altitude, the horizontal
flight, and a descent onto the stop, where the drone dwells. The horizontal flight
starts at rest, speeds up to the cruise speed at `acceleration_mps2`, holds it, and
brakes to a stop over the point at `deceleration_mps2` (the simulator's drones do:
`simulator.flight.engine`, `simulator.flight.kinematics.brake_speed`), so a leg takes
v/(2a) + v/(2d) longer than its length at the cruise speed (3.75 s at 15 m/s and
4 m/s^2 each way: the ETA's bias of about -2 s at a minute before arrival was the
braking half of it, BENCHMARKS.md "Issue 19's table"); a leg too short to reach the
cruise speed is a triangle, speeding up then braking (`horizontal_s`). The drones keep
their speed through a route's waypoints (they brake for the route's end only: its
remaining length is what `brake_speed` is given), so a leg round a no-fly zone costs
no more than its length. The cruise is at the airspeed here; the stream worker's ETA
replaces it by what the drone flies (its smoothed ground speed, the wind on each leg:
`streams.domain.wind`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


def horizontal_s(
    distance_m: float,
    cruise_mps: float,
    acceleration_mps2: float,
    deceleration_mps2: float,
    start_mps: float = 0.0,
) -> float:
    """Seconds to fly `distance_m` to a stop, from `start_mps`, at most at `cruise_mps`.

    The closed form of a speed that rises at `acceleration_mps2` to `cruise_mps` (or
    as far as the distance allows), holds it, and falls at `deceleration_mps2` to zero
    on the point. With v the cruise speed, s the start speed, a and d the rates, a
    distance long enough to reach v takes

        D / v + (v - s)^2 / (2 a v) + v / (2 d),

    the time at the cruise speed plus what the speeding up and the braking lose. A
    shorter one peaks at p, p^2 = (D + s^2 / (2 a)) 2 a d / (a + d), and takes
    (p - s) / a + p / d. A drone already too fast to stop within D at d brakes harder:
    2 D / s. The three meet where they border, so the time is continuous, grows with
    the distance, and is never negative. The start speed is taken between 0 and v
    (a drone faster than the speed it is assumed to cruise at is taken at it).
    """
    if distance_m <= 0.0:
        return 0.0
    v = max(cruise_mps, 1e-9)
    a, d = acceleration_mps2, deceleration_mps2
    s = min(max(start_mps, 0.0), v)
    if distance_m >= (v * v - s * s) / (2 * a) + v * v / (2 * d):
        return distance_m / v + (v - s) ** 2 / (2 * a * v) + v / (2 * d)
    if s * s / (2 * d) >= distance_m:
        return 2 * distance_m / s
    peak = math.sqrt((distance_m + s * s / (2 * a)) * 2 * a * d / (a + d))
    # Never below zero: at a distance of a few ulps, rounding can put the peak a hair
    # under the start speed (hypothesis found -1e-323).
    return max((peak - s) / a + peak / d, 0.0)


@dataclass(frozen=True, slots=True)
class FlightProfile:
    """The fleet's flight parameters (its specification; each service's settings set them)."""

    cruise_speed_mps: float = 15.0
    """Airspeed at cruise."""
    cruise_altitude_m: float = 60.0
    climb_rate_mps: float = 5.0
    descent_rate_mps: float = 4.0
    pickup_dwell_s: float = 10.0
    dropoff_dwell_s: float = 10.0
    acceleration_mps2: float = 4.0
    """Horizontal, from rest to the cruise speed (the drones' `FlightSpec`)."""
    deceleration_mps2: float = 4.0
    """Horizontal, braking onto the leg's end."""

    def climb_s(self, from_altitude_m: float = 0.0) -> float:
        """From `from_altitude_m` up to cruise altitude (0 when already there)."""
        return max(self.cruise_altitude_m - from_altitude_m, 0.0) / self.climb_rate_mps

    def descent_s(self, from_altitude_m: float | None = None) -> float:
        """From `from_altitude_m` (cruise altitude when None) down to the ground."""
        altitude = self.cruise_altitude_m if from_altitude_m is None else from_altitude_m
        return max(altitude, 0.0) / self.descent_rate_mps

    def horizontal_s(
        self, distance_m: float, speed_mps: float | None = None, start_mps: float = 0.0
    ) -> float:
        """`distance_m` to a stop at this profile's rates (`horizontal_s`).

        `speed_mps`: the ground speed it cruises at (the cruise airspeed when None).
        """
        speed = self.cruise_speed_mps if speed_mps is None else speed_mps
        return horizontal_s(
            distance_m, speed, self.acceleration_mps2, self.deceleration_mps2, start_mps
        )

    def leg_s(self, horizontal_m: float, cruise_s: float | None = None) -> float:
        """A whole leg from the ground to the ground: climb, horizontal flight, descent.

        `cruise_s`: the time of the leg's length at its ground speeds when known (in
        the wind); the speeding up and the braking are counted at its mean ground speed.
        Otherwise `horizontal_m` at the airspeed.
        """
        speed = None
        if cruise_s is not None and cruise_s > 0.0 and horizontal_m > 0.0:
            speed = horizontal_m / cruise_s
        return self.climb_s() + self.horizontal_s(horizontal_m, speed) + self.descent_s()
