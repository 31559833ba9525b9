"""Battery: drain by what each drone is doing, and the cost of a whole mission. Pure.

`drain_per_s` is what the engine applies every step; `mission_cost_pct` is what a drone
checks before it accepts a mission. The estimate takes, on every segment of the planned
route, the slowest ground speed the wind field can produce there: the prevailing wind
resolved along and across the segment, worsened by the field's whole variation. So a
drone that accepts keeps its reserve whatever the variation does (the property tests
check it), without assuming a full gale on the nose on every leg.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from simulator.flight.geo import FloatArray
from simulator.flight.spec import FlightSpec
from simulator.flight.wind import WindSpec

BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class Segment:
    """A straight piece of a route: its length and its unit direction (east, north)."""

    length_m: float
    east: float
    north: float


def drain_per_s(
    spec: FlightSpec,
    *,
    climbing: BoolArray,
    cruising: BoolArray,
    descending: BoolArray,
    landed_away: BoolArray,
    charging: BoolArray,
    carrying: BoolArray,
    wind_mps: FloatArray,
) -> FloatArray:
    """Percent per second each drone loses (negative: gains, on the charger)."""
    rate = np.zeros(climbing.shape)
    rate[climbing] = spec.climb_pct_per_s
    rate[cruising] = spec.cruise_pct_per_s
    rate[descending] = spec.hover_pct_per_s
    airborne = climbing | cruising | descending
    rate *= np.where(airborne, 1.0 + spec.wind_drain_per_mps * wind_mps, 1.0)
    rate[airborne & carrying] *= spec.payload_factor
    rate[landed_away] = spec.landed_pct_per_s
    rate[charging] = -spec.charge_pct_per_s
    return rate


def slowest_ground_speed(spec: FlightSpec, segment: Segment, wind: WindSpec) -> float:
    """A lower bound of the ground speed along `segment` anywhere in the wind field.

    The wind is the mean plus a variation of length at most V: its along-track part is
    at least mean_along - V and its crosswind at most |mean_cross| + V; the controller's
    ground speed (see `simulator.flight.kinematics`) falls with both, so this is a bound.
    """
    mean_east, mean_north = wind.mean_east_north
    along = mean_east * segment.east + mean_north * segment.north - wind.variation_mps
    cross = abs(mean_north * segment.east - mean_east * segment.north) + wind.variation_mps
    air = spec.cruise_speed_mps
    speed = math.sqrt(max(air * air - cross * cross, 0.0)) + along
    return min(max(speed, spec.min_ground_speed_mps), spec.max_ground_speed_mps)


def leg_cost_pct(
    spec: FlightSpec, segments: list[Segment], wind: WindSpec, *, loaded: bool
) -> float:
    """Battery one leg costs: take-off, cruise at the slowest ground speed, landing."""
    cruise_s = sum(s.length_m / slowest_ground_speed(spec, s, wind) for s in segments)
    top = min(spec.cruise_speed_mps + wind.max_speed_mps, spec.max_ground_speed_mps)
    cruise_s += top / (2 * spec.acceleration_mps2) + top / (2 * spec.deceleration_mps2)
    climb_s = spec.cruise_altitude_m / spec.climb_rate_mps
    descent_s = spec.cruise_altitude_m / spec.descent_rate_mps
    pct = (
        climb_s * spec.climb_pct_per_s
        + cruise_s * spec.cruise_pct_per_s
        + descent_s * spec.hover_pct_per_s
    ) * (1.0 + spec.wind_drain_per_mps * wind.max_speed_mps)
    return pct * (spec.payload_factor if loaded else 1.0)


def mission_cost_pct(
    spec: FlightSpec,
    legs: tuple[list[Segment], list[Segment], list[Segment]],
    wind: WindSpec,
) -> float:
    """Battery a mission costs: to the pickup, loaded to the drop-off, back to a depot."""
    to_pickup, to_dropoff, back = legs
    flying = (
        leg_cost_pct(spec, to_pickup, wind, loaded=False)
        + leg_cost_pct(spec, to_dropoff, wind, loaded=True)
        + leg_cost_pct(spec, back, wind, loaded=False)
    )
    landed = (spec.pickup_dwell_s + spec.dropoff_dwell_s) * spec.landed_pct_per_s
    return (flying + landed) * spec.estimate_margin
