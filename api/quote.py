"""The quote at request time: when the drone should reach the pickup and the drop-off.

Issue 19 (1): a customer gets a promise with the 202, not "..." until a drone is
assigned. The quote adds up what the delivery has ahead of it:

1. the wait for a drone. Deliveries waiting before it are served first (dispatch's
   queue is by request time): while more drones are free than are waiting ahead, none.
   Otherwise it waits for drones to come free: the deliveries it must wait out, each
   taking a busy drone for about one mission, shared by the busy drones (a first model:
   issue 19 part 5 measures it against what happens);
2. the flight to the pickup: along the route around the no-fly zones
   (`contracts.airspace`, the planner the stream worker's ETA uses) from the nearest
   free drone, or, when it must wait, from the depot nearest the pickup (drones come
   free at depots); a climb, the cruise and a descent, as the ETA counts a leg;
3. the dwell at the pickup; 4. the flight to the drop-off along its route, and the
   dwell there (the ETA's arrival includes it, so the two compare).

Each flight speeds up from rest and brakes onto its stop (`contracts.eta.horizontal_s`:
3.75 s a leg at the fleet's 15 m/s and 4 m/s^2), and cruises slower than the airspeed
by what a wind of `wind_mps` costs on average over every direction (`wind_slowdown`):
the API does not know the wind the stream worker learns, nor which way a leg will meet
it, but any wind costs a flight more against it than it gives back with it. Before
the first flight, the time from the request to the drone's take-off (`preflight_s`,
`PREFLIGHT_S`): the request's trip through the event log to dispatch, dispatch's round
(on the request itself when a drone is free), the `AssignDrone` command back through
the deliveries stage, the simulator hearing of the `DroneAssigned` and the drone
starting its climb at its next step.

The flight profile is the stream worker's: `contracts.eta.FlightProfile`, which its
`streams.domain.eta.EtaModel` extends (services share only `contracts`). Pure, but for
`FreeDrones`, which reads the fleet's free drones from the
read model at most once per refresh period for every request of the process.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
import psycopg
from psycopg_pool import AsyncConnectionPool

from api import queries
from api.airspace import AirspaceKeeper
from api.errors import UnavailableError
from api.schemas import QuotePublic
from api.waiting import WaitingLine
from contracts import AirspaceRules, GeoPoint
from contracts.eta import FlightProfile


@dataclass(frozen=True, slots=True)
class Fleet:
    """The free drones' positions (degrees) and how many drones are busy."""

    lats: npt.NDArray[np.float64]
    lons: npt.NDArray[np.float64]
    busy: int

    @classmethod
    def of(cls, free: list[GeoPoint], busy: int) -> Fleet:
        """The fleet of these free drones and `busy` busy ones."""
        return cls(
            np.array([p.lat for p in free], dtype=np.float64),
            np.array([p.lon for p in free], dtype=np.float64),
            busy,
        )

    @property
    def free(self) -> int:
        """How many drones are free."""
        return int(self.lats.size)

    def nearest(self, to: GeoPoint) -> GeoPoint | None:
        """The free drone nearest `to` (a planar estimate picks it; None: none free)."""
        if self.lats.size == 0:
            return None
        dy = self.lats - to.lat
        dx = (self.lons - to.lon) * np.cos(np.radians(to.lat))
        i = int(np.argmin(dx * dx + dy * dy))
        return GeoPoint(float(self.lats[i]), float(self.lons[i]))


PREFLIGHT_S = 0.1
"""From the request to the take-off, when a drone is free (the quote's own term).

Measured on issue 19's three whole-platform runs (122 deliveries assigned at once, read
back from their topics: `DeliveryRequested.recorded_at`, `DroneAssigned.recorded_at`,
and the first fix off the ground less its climb): the request to its assignment 0.02 s
(median; p90 0.06 s, at most 0.2 s), the assignment to the climb within the simulator's
next step (0.1 s at 1 Hz in 10 cohorts); so 0.1 s. It is not where the quote's early
bias was (BENCHMARKS.md): a loaded platform's is longer (`ApiSettings.quote_preflight_s`)."""


QUOTE_WIND_MPS = 3.0
"""The wind the quote allows for when none is set (`ApiSettings.quote_wind_mps`)."""

_HEADINGS = 64
"""Directions averaged over by `wind_slowdown` (its integrand is smooth and periodic, so
the midpoint rule is exact to ~1e-12 here)."""


def wind_slowdown(wind_mps: float, airspeed_mps: float) -> float:
    """How much longer a cruise takes in a wind of `wind_mps` from an unknown direction.

    A drone holding its track at airspeed a in a wind w at angle t to it makes
    g = w cos t + sqrt(a^2 - w^2 sin^2 t) over the ground (`streams.domain.wind`), and
    a / g = a (sqrt(a^2 - w^2 sin^2 t) - w cos t) / (a^2 - w^2). Over every t the
    cos term averages out: the factor is mean(sqrt(1 - k^2 sin^2 t)) / (1 - k^2) with
    k = w / a, about 1 + 3 k^2 / 4 (1.031 for 3 m/s at 15 m/s: 9 s on 5 minutes of
    cruise). 1 in calm air; a wind as strong as the airspeed is no drone's weather,
    so k is kept below 0.95.
    """
    if wind_mps <= 0.0:
        return 1.0
    k2 = min(wind_mps / airspeed_mps, 0.95) ** 2
    mean = (
        sum(
            math.sqrt(1.0 - k2 * math.sin(math.pi * (i + 0.5) / _HEADINGS) ** 2)
            for i in range(_HEADINGS)
        )
        / _HEADINGS
    )
    return mean / (1.0 - k2)


def track_slowdown(
    wind_mps: float, wind_from_deg: float, track_deg: float, airspeed_mps: float
) -> float:
    """How much longer a cruise along `track_deg` takes in `wind_mps` from `wind_from_deg`.

    The drone holds its track (as `streams.domain.wind` and the simulator fly it): the
    crosswind c eats part of the airspeed a, the along-track wind l adds to what is
    left, g = sqrt(a^2 - c^2) + l, and the factor is a / g (a / (a - w) straight into
    the wind, a / (a + w) with it behind). Why a direction: in the bundled scenario the
    depots lie north of most pickups and the wind comes from the south-west, so flights
    to the pickups fly into it (12.3 m/s over the ground on three seeds' runs, against
    14.3 on the way to the drop-offs); the mean over all directions (`wind_slowdown`)
    left such quotes 18 % short.
    """
    towards = math.radians(wind_from_deg + 180.0 - track_deg)
    along = wind_mps * math.cos(towards)
    cross = wind_mps * math.sin(towards)
    ground = math.sqrt(max(airspeed_mps**2 - cross**2, 0.0)) + along
    return airspeed_mps / max(ground, 0.05 * airspeed_mps)


def track_deg(start: GeoPoint, end: GeoPoint) -> float:
    """The bearing from `start` to `end` in degrees from north (planar: legs of a few km)."""
    east = (end.lon - start.lon) * math.cos(math.radians((start.lat + end.lat) / 2.0))
    north = end.lat - start.lat
    return math.degrees(math.atan2(east, north)) % 360.0


@dataclass(frozen=True, slots=True)
class Quote:
    """The promise: when the pickup and the drop-off should happen, and what makes it up."""

    pickup_at: datetime
    dropoff_at: datetime
    wait_s: float
    """Before a drone is assigned."""
    preflight_s: float
    """From the assignment (or the request, with a drone free) to the take-off."""
    to_pickup_s: float
    """The flight to the pickup (from the nearest free drone, or the depot nearest it)."""
    to_dropoff_s: float
    """From the parcel on board to the drop-off's end: flight, dwell."""


def quote(
    pickup: GeoPoint,
    dropoff: GeoPoint,
    ahead: int,
    fleet: Fleet,
    airspace: AirspaceRules,
    profile: FlightProfile,
    now: datetime,
    preflight_s: float = PREFLIGHT_S,
    wind_mps: float = 0.0,
    wind_from_deg: float | None = None,
) -> Quote:
    """The quote for a delivery with `ahead` deliveries waiting before it.

    `wind_mps`: the wind allowed for (0: calm air); from `wind_from_deg` (a forecast:
    each leg is timed by its direction from start to end, `track_slowdown`, which a
    route bending round a zone only approximates), or from an unknown direction (None:
    the mean over all, `wind_slowdown`).
    """
    airspeed = profile.cruise_speed_mps
    unknown_direction = wind_slowdown(wind_mps, airspeed)

    def leg_s(start: GeoPoint, end: GeoPoint, metres: float) -> float:
        if wind_from_deg is None or wind_mps <= 0.0:
            slowdown = unknown_direction
        else:
            slowdown = track_slowdown(wind_mps, wind_from_deg, track_deg(start, end), airspeed)
        return profile.leg_s(metres, metres * slowdown / airspeed)

    carry_m = airspace.route_m(pickup, dropoff)
    to_dropoff_s = leg_s(pickup, dropoff, carry_m) + profile.dropoff_dwell_s
    drone = fleet.nearest(pickup) if ahead < fleet.free else None
    if drone is not None:
        wait_s = 0.0
        start = drone
    else:
        start = airspace.nearest_depot(pickup)
        home = airspace.nearest_depot(dropoff)
        mission_s = (
            leg_s(start, pickup, airspace.route_m(start, pickup))
            + profile.pickup_dwell_s
            + to_dropoff_s
            + leg_s(dropoff, home, airspace.route_m(dropoff, home))
        )
        to_wait_out = ahead - fleet.free + 1
        wait_s = to_wait_out * mission_s / max(fleet.busy, 1)
    to_pickup_s = leg_s(start, pickup, airspace.route_m(start, pickup))
    # The pickup is the moment the parcel is on board (`PickedUp`, after the dwell), the
    # event the quote is measured against (`delivery_quote_error_view`); counting to the
    # landing made every pickup quote a dwell early by definition.
    pickup_at = now + timedelta(seconds=wait_s + preflight_s + to_pickup_s + profile.pickup_dwell_s)
    return Quote(
        pickup_at=pickup_at,
        dropoff_at=pickup_at + timedelta(seconds=to_dropoff_s),
        wait_s=wait_s,
        preflight_s=preflight_s,
        to_pickup_s=to_pickup_s,
        to_dropoff_s=to_dropoff_s,
    )


MATERIAL_S = 30.0
"""A quote that moved by more than this is news to the customer (told again)."""


def moved(before: QuotePublic | None, after: QuotePublic) -> bool:
    """Whether the customer should hear of `after`, having been told `before`."""
    if before is None:
        return True
    shift = abs((after.dropoff_eta - before.dropoff_eta).total_seconds())
    return shift > MATERIAL_S


class FreeDrones:
    """The fleet's free drones from the read model, re-read at most once per `refresh_s`.

    Reading the fleet costs O(fleet) (`queries.free_drones`): one read serves every
    request and socket of the process for the period, as `api.waiting.WaitingLine` does
    for the queue.
    """

    def __init__(self, refresh_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.refresh_s = refresh_s
        self.clock = clock
        self.reads = 0
        self._fleet: Fleet | None = None
        self._read_at: float | None = None
        self._lock = asyncio.Lock()

    async def fleet(self, read: Callable[[], Awaitable[list[dict[str, Any]]]]) -> Fleet:
        """The fleet, from a read at most `refresh_s` old."""
        async with self._lock:
            age = None if self._read_at is None else self.clock() - self._read_at
            if self._fleet is None or age is None or age >= self.refresh_s:
                rows = await read()
                self.reads += 1
                free = [GeoPoint(row["lat"], row["lon"]) for row in rows if row["free"]]
                self._fleet = Fleet.of(free, sum(1 for row in rows if not row["free"]))
                self._read_at = self.clock()
            return self._fleet


log = logging.getLogger(__name__)

QUOTE_SILENT_AFTER_S = 60.0
"""A drone unheard for longer is not counted (the fleet summary's figure)."""


async def quote_now(
    pool: AsyncConnectionPool,
    airspace: AirspaceKeeper,
    free_drones: FreeDrones,
    waiting: WaitingLine,
    pickup: GeoPoint,
    dropoff: GeoPoint,
    ahead: int | None,
    now: datetime,
    preflight_s: float = PREFLIGHT_S,
    wind_mps: float = QUOTE_WIND_MPS,
    wind_from_deg: float | None = None,
) -> QuotePublic | None:
    """The public quote as of `now`; None without an airspace or a read model.

    `ahead`: None for a delivery not in the queue yet (every waiting one is then ahead).
    `preflight_s`: the request to the take-off (`ApiSettings.quote_preflight_s`);
    `wind_mps`, `wind_from_deg`: the wind allowed for (`ApiSettings.quote_wind_mps`,
    `quote_wind_from_deg`).
    Never raises for the database: the request it answers is recorded already, and a
    202 without a quote beats a 500 for a delivery that was accepted.
    """
    rules = airspace.rules
    if rules is None:
        return None
    try:
        fleet = await free_drones.fleet(lambda: queries.free_drones(pool, QUOTE_SILENT_AFTER_S))
        if ahead is None:
            ahead = await waiting.length(lambda: queries.waiting_deliveries(pool))
    except (UnavailableError, psycopg.Error):
        log.warning("no quote: the read model did not answer", exc_info=True)
        return None
    made = quote(
        pickup,
        dropoff,
        ahead,
        fleet,
        rules,
        FlightProfile(),
        now,
        preflight_s,
        wind_mps,
        wind_from_deg,
    )
    return public(made, now)


def public(made: Quote, now: datetime) -> QuotePublic:
    """The quote as the API shows it."""
    return QuotePublic(
        pickup_eta=made.pickup_at,
        dropoff_eta=made.dropoff_at,
        wait_s=round(made.wait_s, 1),
        to_pickup_s=round(made.to_pickup_s, 1),
        to_dropoff_s=round(made.to_dropoff_s, 1),
        quoted_at=now,
    )
