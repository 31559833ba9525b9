"""The drone model's performance: kinematic limits, dwell times and battery figures.

Defaults describe a small multirotor delivery drone (a few kilograms, a parcel of
1.5 kg, 20-odd minutes of hover): climb 5 m/s and descend 4 m/s (faster descents
risk the vortex ring state), 4 m/s^2 horizontal acceleration, 15 m/s cruise airspeed.
The battery figures are percent per second by what the drone is doing; cruise is
cheaper than hover (translational lift): about 2.7 %/km at 15 m/s in calm air, so a
full drone can fly every mission of the Zurich demand disc into the worst wind its
scenario allows. Dispatch (`streams.domain.drone_choice`) budgets a flat 4 %/km plus a reserve;
the engine's own check (`simulator.flight.battery`) is the one that refuses.
"""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(frozen=True, slots=True)
class FlightSpec:
    """The drone model's performance (speeds are air-relative unless said otherwise)."""

    cruise_speed_mps: float = 15.0
    cruise_altitude_m: float = 60.0
    climb_rate_mps: float = 5.0
    descent_rate_mps: float = 4.0
    acceleration_mps2: float = 4.0
    deceleration_mps2: float = 4.0
    max_ground_speed_mps: float = 55.0
    """Hard cap on ground speed (tailwind included), under the validators' 60 m/s."""
    min_ground_speed_mps: float = 1.0
    """The controller's floor in a headwind, so a drone always makes progress."""
    pickup_dwell_s: float = 10.0
    dropoff_dwell_s: float = 10.0
    hover_pct_per_s: float = 0.08
    """Hovering and descending."""
    climb_pct_per_s: float = 0.12
    cruise_pct_per_s: float = 0.04
    """At `cruise_speed_mps`; not rescaled when the cruise speed is changed."""
    landed_pct_per_s: float = 0.005
    """Avionics while landed at a pickup or drop-off, motors idle."""
    charge_pct_per_s: float = 0.2
    """At the depot: a fast charger (or a battery swap), empty to full in about 8 min."""
    empty_mass_kg: float = 8.0
    payload_kg: float = 1.5
    wind_drain_per_mps: float = 0.02
    """Extra airborne drain per m/s of wind: holding attitude in moving air costs power."""
    reserve_pct: float = 10.0
    """A drone refuses a mission it would end with less than this left, and aborts one
    (before the drop-off) when its battery falls under it."""
    low_battery_pct: float = 25.0
    """Under this a drone reports `battery_low` (once, until it is charged again)."""
    estimate_margin: float = 1.1
    """The mission estimate's safety factor over its worst-case-wind figure."""

    def __post_init__(self) -> None:
        for spec_field in fields(self):
            value = getattr(self, spec_field.name)
            if value < 0:
                raise ValueError(f"FlightSpec.{spec_field.name} must be >= 0, got {value}")
        for name in (
            "cruise_speed_mps",
            "cruise_altitude_m",
            "climb_rate_mps",
            "descent_rate_mps",
            "acceleration_mps2",
            "deceleration_mps2",
            "min_ground_speed_mps",
            "empty_mass_kg",
        ):
            if getattr(self, name) <= 0:
                raise ValueError(f"FlightSpec.{name} must be > 0")
        if self.max_ground_speed_mps < self.min_ground_speed_mps:
            raise ValueError("FlightSpec.max_ground_speed_mps is below min_ground_speed_mps")

    @property
    def payload_factor(self) -> float:
        """Power multiplier when loaded: induced power grows with mass to the 1.5."""
        return float(((self.empty_mass_kg + self.payload_kg) / self.empty_mass_kg) ** 1.5)
