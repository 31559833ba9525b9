"""A seeded, smooth wind field: a prevailing wind plus slow travelling variations.

Why: with calm air every drone flies at exactly its cruise speed and the ETA problem
the platform exists to solve is trivial. Real ground speed changes along the route and
over minutes. The field is a constant vector plus a few sinusoidal waves in space and
time whose directions, wavelengths, periods and phases come from a seeded generator:
smooth (no gusts that would make ground speed jump), bounded (|wind| never exceeds
`speed_mps + variation_mps`, which the battery reserve and speed limit rely on) and
reproducible.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from simulator.flight.geo import FloatArray

WAVES = 3


@dataclass(frozen=True, slots=True)
class WindSpec:
    """The prevailing wind (meteorological: the direction it blows from) and its variation."""

    speed_mps: float = 0.0
    from_deg: float = 270.0
    variation_mps: float = 0.0
    min_wavelength_m: float = 4_000.0
    max_wavelength_m: float = 20_000.0
    min_period_s: float = 600.0
    max_period_s: float = 3_600.0

    @property
    def mean_east_north(self) -> tuple[float, float]:
        """The prevailing wind as a vector (m/s towards east, towards north)."""
        towards = math.radians(self.from_deg + 180.0)
        return self.speed_mps * math.sin(towards), self.speed_mps * math.cos(towards)

    @property
    def max_speed_mps(self) -> float:
        """An upper bound of |wind| anywhere, any time."""
        return self.speed_mps + self.variation_mps


class WindField:
    """Samples the wind (east, north in m/s) at frame positions and a time in seconds."""

    def __init__(self, spec: WindSpec, rng: np.random.Generator) -> None:
        self.spec = spec
        self._mean = spec.mean_east_north
        wave_dir = rng.uniform(0.0, 2 * math.pi, WAVES)
        wavelength = rng.uniform(spec.min_wavelength_m, spec.max_wavelength_m, WAVES)
        period = rng.uniform(spec.min_period_s, spec.max_period_s, WAVES)
        self._kx = 2 * math.pi / wavelength * np.cos(wave_dir)
        self._ky = 2 * math.pi / wavelength * np.sin(wave_dir)
        self._omega = 2 * math.pi / period
        self._phase = rng.uniform(0.0, 2 * math.pi, WAVES)
        gust_dir = rng.uniform(0.0, 2 * math.pi, WAVES)
        amplitude = spec.variation_mps / WAVES
        self._ax = amplitude * np.sin(gust_dir)
        self._ay = amplitude * np.cos(gust_dir)

    def sample(self, x: FloatArray, y: FloatArray, t: float) -> tuple[FloatArray, FloatArray]:
        """Wind east and north components at frame metres (x, y), time `t` seconds."""
        east = np.full_like(x, self._mean[0])
        north = np.full_like(x, self._mean[1])
        if self.spec.variation_mps == 0.0:
            return east, north
        for k in range(WAVES):
            wave = np.sin(self._kx[k] * x + self._ky[k] * y + (self._omega[k] * t + self._phase[k]))
            east += self._ax[k] * wave
            north += self._ay[k] * wave
        return east, north
