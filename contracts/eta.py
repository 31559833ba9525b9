"""How the fleet flies, as every ETA counts it: one flight profile for quote and tracking.

Pure. Why in `contracts`: the API's quote at request (`api.quote`) and the stream
worker's ETA on each fix (`streams.domain.eta`) must count a leg the same way, or the
customer's first promise and the updates after it differ by construction; services share
only `contracts` (import-linter), so the profile and its leg live here rather than in
one service and a copy in the other (the `duplicates` tool found the copy).

A leg goes from the ground to the ground: a climb to cruise altitude, the cruise, and a
descent onto the stop, where the drone dwells. The cruise is at the airspeed here; the
stream worker's ETA replaces it by what the drone flies (its smoothed ground speed, the
wind on each leg: `streams.domain.wind`).
"""

from __future__ import annotations

from dataclasses import dataclass


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

    def climb_s(self, from_altitude_m: float = 0.0) -> float:
        """From `from_altitude_m` up to cruise altitude (0 when already there)."""
        return max(self.cruise_altitude_m - from_altitude_m, 0.0) / self.climb_rate_mps

    def descent_s(self, from_altitude_m: float | None = None) -> float:
        """From `from_altitude_m` (cruise altitude when None) down to the ground."""
        altitude = self.cruise_altitude_m if from_altitude_m is None else from_altitude_m
        return max(altitude, 0.0) / self.descent_rate_mps

    def leg_s(self, horizontal_m: float, cruise_s: float | None = None) -> float:
        """A whole leg from the ground to the ground: climb, cruise, descent.

        `cruise_s`: the cruise's own time when known (in the wind); otherwise
        `horizontal_m` at the airspeed.
        """
        cruise = horizontal_m / self.cruise_speed_mps if cruise_s is None else cruise_s
        return self.climb_s() + cruise + self.descent_s()
