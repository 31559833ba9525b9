"""The wind, estimated from what the drones report, and applied to each leg by its direction.

Pure (no I/O, no clock: times are the fixes'). Issue 19, part 3: the wind on the next
leg is not the wind on this one. A drone's smoothed ground speed says how fast it flies
the leg it is on; a leg at another heading meets the same wind from another side.

The estimate. A drone cruising at airspeed `a` with ground velocity `g` (its fix's
ground speed along its track) in a wind `w` keeps |g - w| = a. Squared, that is

    2 g.w - |w|^2 = |g|^2 - a^2,

linear in (w_east, w_north, |w|^2): a least-squares problem over fixes flown at several
headings (one heading alone cannot tell a headwind from a crosswind: the fit needs the
ground velocities spread in two directions, `min_spread_mps`). Each cell of a coarse grid
(`cell_m`: the simulator's wind, `simulator.flight.wind`, is a prevailing vector plus
waves 4 to 20 km long changing over 10 to 60 minutes) keeps the fit's normal equations,
ten numbers, decayed with a half-life (recent fixes weigh more): memory is bounded per
cell whatever the number of fixes, and a fix costs a few multiplications. The whole area
keeps one more, the fallback for a cell that has seen too few headings; with neither,
there is no wind estimate and the ETA is the one without wind (cruise airspeed).

Applied: a drone crabs into the crosswind to hold its track (`simulator.flight.kinematics`
does the same), so along a unit direction `d` its ground speed is
w.d + sqrt(a^2 - (w x d)^2), floored at `min_ground_speed_mps` (never negative).

Which fixes teach it: steady cruise only (`steady`): at cruise altitude, at least half
the airspeed, and close to the drone's smoothed speed, so accelerating, braking onto a
stop and turning at a corner (where the speed is not yet the wind's) are left out.

Where it lives: in the stream worker's memory (the tracking emitter's), like nothing a
restart must keep: a restarted worker rebuilds it from the next minutes of fixes and
meanwhile gives the no-wind ETA. Each worker learns from its own partitions' fixes.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from contracts import GeoPoint

_M_PER_DEG_LAT = 111_132.0
_M_PER_DEG_LON_EQUATOR = 111_320.0


class Wind(NamedTuple):
    """A wind vector in m/s: towards east, towards north."""

    east: float
    north: float


@dataclass(frozen=True, slots=True)
class WindModel:
    """How the wind is learned and applied.

    Passed in, never read from the environment: the stream worker builds it from its
    settings (`StreamsSettings.wind_*`, env `DRONEFLEET_STREAMS_WIND_...`, in
    `streams.runtime.worker.wind_model`); the defaults here are theirs.
    """

    airspeed_mps: float = 15.0
    """The drones' cruise airspeed (the fleet's specification, `StreamsSettings`)."""
    cell_m: float = 2_000.0
    half_life_s: float = 600.0
    min_weight: float = 20.0
    """Fewer (decayed) fixes than this in a cell: not enough to say."""
    min_spread_mps: float = 2.0
    """The ground velocities' spread in their least spread direction: below it the fixes
    are at one heading (or two), which cannot separate headwind from crosswind."""
    max_wind_fraction: float = 0.8
    """A fit with a stronger wind than this fraction of the airspeed is not believed (no
    drone could hold its track in it)."""
    min_ground_speed_mps: float = 1.0
    """The floor of a ground speed into a headwind (the drones' controller's)."""
    max_cells: int = 20_000
    resolve_s: float = 5.0
    """A cell's fit is solved again at most this often (fix time): the wind is slow."""
    retime_s: float = 30.0
    """A delivery's legs after the current one are timed again at most this often (and
    at each corner): a wind that changes over minutes needs no new sum every second."""
    steady_tolerance_mps: float = 1.0
    min_speed_fraction: float = 0.5

    def steady(self, ground_speed_mps: float, smoothed_mps: float | None, on_top: bool) -> bool:
        """Whether a fix is steady cruise, fit to teach the estimate (`on_top`: at altitude)."""
        return (
            on_top
            and smoothed_mps is not None
            and ground_speed_mps >= self.min_speed_fraction * self.airspeed_mps
            and abs(ground_speed_mps - smoothed_mps) <= self.steady_tolerance_mps
        )

    def ground_speed(self, wind: Wind | None, east: float, north: float) -> float:
        """Ground speed along the unit direction (east, north), crabbing into `wind`."""
        air = self.airspeed_mps
        if wind is None:
            return air
        along = wind.east * east + wind.north * north
        cross = wind.north * east - wind.east * north
        speed = along + math.sqrt(max(air * air - cross * cross, 0.0))
        return max(speed, self.min_ground_speed_mps)


class _Fit:
    """The decayed normal equations of one cell's fixes (and their spread)."""

    __slots__ = ("at", "e", "ee", "en", "ey", "n", "nn", "no", "ny", "solved", "solved_at", "y")

    def __init__(self, at: float) -> None:
        self.n = self.e = self.no = self.ee = self.en = self.nn = 0.0
        self.y = self.ey = self.ny = 0.0
        self.at = at
        self.solved: Wind | None = None
        self.solved_at: float | None = None

    def add(self, ge: float, gn: float, y: float, at: float, half_life_s: float) -> None:
        if at > self.at:
            keep = 0.5 ** ((at - self.at) / half_life_s)
            self.n *= keep
            self.e *= keep
            self.no *= keep
            self.ee *= keep
            self.en *= keep
            self.nn *= keep
            self.y *= keep
            self.ey *= keep
            self.ny *= keep
            self.at = at
            weight = 1.0
        else:  # a late fix weighs as old as it is
            weight = 0.5 ** ((self.at - at) / half_life_s)
        self.n += weight
        self.e += weight * ge
        self.no += weight * gn
        self.ee += weight * ge * ge
        self.en += weight * ge * gn
        self.nn += weight * gn * gn
        self.y += weight * y
        self.ey += weight * ge * y
        self.ny += weight * gn * y

    def solve(self, model: WindModel) -> Wind | None:
        """The least-squares wind; None with too few fixes or headings, or a wild fit."""
        n = self.n
        if n < model.min_weight:
            return None
        me, mn = self.e / n, self.no / n
        cee = self.ee / n - me * me
        cen = self.en / n - me * mn
        cnn = self.nn / n - mn * mn
        half = (cee + cnn) / 2
        smallest = half - math.sqrt(max(half * half - (cee * cnn - cen * cen), 0.0))
        if smallest < model.min_spread_mps**2:
            return None
        # Rows (2 ge, 2 gn, -1) . (we, wn, s) = y; the normal equations A x = b.
        a00, a01, a02 = 4 * self.ee, 4 * self.en, -2 * self.e
        a11, a12, a22 = 4 * self.nn, -2 * self.no, n
        b0, b1, b2 = 2 * self.ey, 2 * self.ny, -self.y
        det = (
            a00 * (a11 * a22 - a12 * a12)
            - a01 * (a01 * a22 - a12 * a02)
            + a02 * (a01 * a12 - a11 * a02)
        )
        if det == 0.0:
            return None
        we = (
            b0 * (a11 * a22 - a12 * a12) - a01 * (b1 * a22 - a12 * b2) + a02 * (b1 * a12 - a11 * b2)
        ) / det
        wn = (
            a00 * (b1 * a22 - a12 * b2) - b0 * (a01 * a22 - a12 * a02) + a02 * (a01 * b2 - b1 * a02)
        ) / det
        if math.hypot(we, wn) > model.max_wind_fraction * model.airspeed_mps:
            return None
        return Wind(we, wn)


class WindEstimator:
    """The wind per grid cell and over the whole area, learned from steady-cruise fixes."""

    def __init__(self, model: WindModel) -> None:
        self.model = model
        self._cells: OrderedDict[tuple[int, int], _Fit] = OrderedDict()
        self._area: _Fit | None = None
        self._timed: OrderedDict[str, tuple[Hashable, float, tuple[float, float, float]]] = (
            OrderedDict()
        )

    def timed(self, key: str, place: Hashable, now_s: float) -> tuple[float, float, float] | None:
        """What `remember` kept for `key` at the same `place`, if at most `retime_s` old.

        Why: timing a route's legs costs tens of microseconds (a wind per piece of each
        leg), and a delivery sends a fix a second while its wind changes over minutes. So
        the emitter times the legs after the one a drone flies once per `retime_s` and
        per leg (`place`), and each fix divides the leg it is on by its ground speed.
        """
        kept = self._timed.get(key)
        if kept is None or kept[0] != place or not 0.0 <= now_s - kept[1] < self.model.retime_s:
            return None
        return kept[2]

    def remember(
        self, key: str, place: Hashable, now_s: float, times: tuple[float, float, float]
    ) -> None:
        """Keep `times` for `key` at `place` (bounded: the least recently kept go first)."""
        self._timed[key] = (place, now_s, times)
        self._timed.move_to_end(key)
        if len(self._timed) > self.model.max_cells:
            self._timed.popitem(last=False)

    def cell(self, lat: float, lon: float) -> tuple[int, int]:
        """The grid cell of a point (about `cell_m` on a side)."""
        size = self.model.cell_m
        lat_step = size / _M_PER_DEG_LAT
        lon_step = size / (_M_PER_DEG_LON_EQUATOR * max(math.cos(math.radians(lat)), 0.01))
        return math.floor(lat / lat_step), math.floor(lon / lon_step)

    def observe(
        self, lat: float, lon: float, ground_speed_mps: float, heading_deg: float, at_s: float
    ) -> None:
        """Learn from one steady-cruise fix (`at_s`: its time, in seconds)."""
        model = self.model
        heading = math.radians(heading_deg)
        ge, gn = ground_speed_mps * math.sin(heading), ground_speed_mps * math.cos(heading)
        y = ge * ge + gn * gn - model.airspeed_mps**2
        key = self.cell(lat, lon)
        fit = self._cells.get(key)
        if fit is None:
            fit = self._cells[key] = _Fit(at_s)
            if len(self._cells) > model.max_cells:
                self._cells.popitem(last=False)  # the cell heard of least recently
        else:
            self._cells.move_to_end(key)
        fit.add(ge, gn, y, at_s, model.half_life_s)
        if self._area is None:
            self._area = _Fit(at_s)
        self._area.add(ge, gn, y, at_s, model.half_life_s)

    def at(self, lat: float, lon: float, now_s: float) -> Wind | None:
        """The wind at a point: its cell's, else the area's, else None (not known)."""
        fit = self._cells.get(self.cell(lat, lon))
        wind = self._solved(fit, now_s) if fit is not None else None
        if wind is None and self._area is not None:
            wind = self._solved(self._area, now_s)
        return wind

    def _solved(self, fit: _Fit, now_s: float) -> Wind | None:
        if fit.solved_at is None or abs(now_s - fit.solved_at) >= self.model.resolve_s:
            fit.solved = fit.solve(self.model)
            fit.solved_at = now_s
        return fit.solved

    def known(self, now_s: float) -> bool:
        """Whether any wind is estimated (the area's fit is the widest: without it, none)."""
        return self._area is not None and self._solved(self._area, now_s) is not None

    def cruise_s(
        self,
        points: Sequence[GeoPoint],
        now_s: float,
        lengths: Sequence[float] | None = None,
    ) -> float:
        """Seconds to cruise the polyline `points`, each piece at its own wind and direction.

        `lengths`: each leg's length (the route's, geodesic); planar when not given. Legs
        longer than a cell are cut into pieces of at most `cell_m`, each flown at the wind
        of its middle. Where no wind is estimated, at the airspeed (as before issue 19).
        """
        model = self.model
        total = 0.0
        for i in range(len(points) - 1):
            a, b = points[i], points[i + 1]
            north = (b.lat - a.lat) * _M_PER_DEG_LAT
            east = (b.lon - a.lon) * _M_PER_DEG_LON_EQUATOR * math.cos(math.radians(a.lat))
            planar = math.hypot(east, north)
            length = planar if lengths is None else lengths[i]
            if planar == 0.0 or length <= 0.0:
                continue
            ue, un = east / planar, north / planar
            pieces = max(1, math.ceil(length / model.cell_m))
            step = length / pieces
            for k in range(pieces):
                f = (k + 0.5) / pieces
                wind = self.at(a.lat + (b.lat - a.lat) * f, a.lon + (b.lon - a.lon) * f, now_s)
                total += step / model.ground_speed(wind, ue, un)
        return total
