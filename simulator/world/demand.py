"""Demand: delivery requests arriving as a Poisson process. Pure: it draws, never sends.

The arrival times, the points and (for Kafka) the ids are drawn from one seeded
generator, so a seed gives the same demand. The runner sends them one of two ways
(`--demand-via`):
- `api` posts each order to the platform's public REST API, exactly as a business
  would (`simulator.adapters.api_client`): it loads the API, its key check and its
  producer too;
- `kafka` writes the `DeliveryRequested` of `next_request` straight to the deliveries
  topic, as the API does after its checks: it loads the stream processors alone,
  without an API process or a business key, and goes beyond what one API process
  accepts.

Impossible requests (`impossible_share`): real customers mistype addresses and order
from the wrong city, so a share of the orders can be ones no drone could ever serve:
a pickup or a drop-off inside a no-fly zone, a pickup far outside the service area, a
drop-off beyond the fleet's range. Each carries the reason the platform must refuse it
with, found by the very rules the API applies (`contracts.AirspaceRules` over the
airspace this scenario publishes), so a fault scenario can hold the API to it. They go
through the API only: the Kafka path writes what the API would have accepted.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime

from contracts import (
    AirspaceRules,
    DeliveryRequested,
    GeoPoint,
    NoFlyZone,
    Unservable,
)
from simulator.flight.geo import WGS84
from simulator.world.published import airspace_of
from simulator.world.scenario import Scenario

FAR_AWAY_M = (50_000.0, 15_000_000.0)
"""How far outside the service area an `outside_service_area` pickup lies: from a
neighbouring city to the other side of the world (the issue's pickup in Sydney)."""

BEYOND_RANGE_TIMES = (1.0, 5.0)
"""An impossible drop-off lies this many times the fleet's range from its pickup: the
leg alone is longer than any mission a full drone is sent on."""

MAX_DRAWS = 1_000
"""Draws of one impossible order before giving up (the airspace cannot have one)."""


@dataclass(frozen=True, slots=True)
class DeliveryOrder:
    """One generated request."""

    pickup: GeoPoint
    dropoff: GeoPoint
    unservable: Unservable | None = None
    """Why the platform must refuse it, for an impossible request mixed in on purpose;
    None for one a drone can fly."""


class PoissonDemand:
    """Draws inter-arrival gaps and orders from a seeded generator."""

    def __init__(
        self,
        scenario: Scenario,
        per_minute: float,
        radius_m: float,
        seed: int,
        *,
        impossible_share: float = 0.0,
        for_s: float = 0.0,
    ) -> None:
        self.scenario = scenario
        self.rate_per_s = per_minute / 60.0
        self.radius_m = radius_m
        self.rng = random.Random(seed ^ 0x5EED)
        self.impossible_share = impossible_share
        """Percent of the orders (through the API) that no drone could ever serve."""
        self.for_s = for_s
        """Seconds of demand (simulated), then no more requests; 0: no end."""
        self.drawn_s = 0.0
        """The sum of the gaps drawn so far: when the last request is due."""
        self.rules = AirspaceRules(airspace_of(scenario, datetime(2000, 1, 1, tzinfo=UTC)))
        """The API's rules over the airspace this scenario publishes (its time and id do
        not change any answer)."""
        self.unservable_kinds: tuple[Unservable, ...] = (
            ("pickup_in_no_fly_zone", "dropoff_in_no_fly_zone") if scenario.zones else ()
        ) + ("outside_service_area", "beyond_range")
        """The impossible requests this airspace allows (no zones: none inside one)."""

    def next_gap_s(self) -> float | None:
        """Seconds until the next request; None once the demand's time (`for_s`) is over.

        Demand that ends before the run does lets the fleet finish every delivery it took,
        so a fault scenario can tell a served request from one the run's end cut short.
        """
        gap = self.rng.expovariate(self.rate_per_s)
        self.drawn_s += gap
        if self.for_s and self.drawn_s > self.for_s:
            return None
        return gap

    def next_order(self) -> DeliveryOrder:
        """A pickup and a drop-off in the service area, or an impossible order.

        At `impossible_share`, the order is one the platform must refuse, and carries the
        reason it must give.
        """
        if self.impossible_share and self.rng.random() * 100.0 < self.impossible_share:
            return self.unservable_order(self.rng.choice(self.unservable_kinds))
        return self._servable_order()

    def next_request(self, business_id: str, now: datetime) -> DeliveryRequested:
        """The next order as the event the API would write, with ids from the generator.

        Always a servable one: this path stands for what the API accepted.
        """
        order = self._servable_order()
        return DeliveryRequested(
            event_id=f"{self.rng.getrandbits(128):032x}",
            sequence=1,
            occurred_at=now,
            recorded_at=now,
            delivery_id=f"sim-{self.rng.getrandbits(64):016x}",
            business_id=business_id,
            pickup=order.pickup,
            dropoff=order.dropoff,
        )

    def unservable_order(self, kind: Unservable) -> DeliveryOrder:
        """An order the API's rules refuse with `kind`, drawn until they do.

        Drawn again when another rule comes first (a far pickup that lands in some
        zone, say): the order carries exactly the reason the platform must answer.
        """
        for _ in range(MAX_DRAWS):
            pickup, dropoff = self._servable_points()
            if kind == "pickup_in_no_fly_zone":
                pickup = self._point_in_zone()
            elif kind == "dropoff_in_no_fly_zone":
                dropoff = self._point_in_zone()
            elif kind == "outside_service_area":
                pickup = _destination(self.scenario.center, self._bearing(), _far(self.rng))
            else:
                leg = self.rng.uniform(*BEYOND_RANGE_TIMES) * self.rules.airspace.range_m
                dropoff = _destination(pickup, self._bearing(), leg)
            refused = self.rules.refusal(pickup, dropoff)
            if refused is not None and refused[0] == kind:
                return DeliveryOrder(pickup, dropoff, unservable=kind)
        raise ValueError(f"no {kind} request in the airspace of {self.scenario.name!r}")

    def _servable_order(self) -> DeliveryOrder:
        pickup, dropoff = self._servable_points()
        return DeliveryOrder(pickup=pickup, dropoff=dropoff)

    def _servable_points(self) -> tuple[GeoPoint, GeoPoint]:
        return (
            self.scenario.random_point(self.rng, self.radius_m),
            self.scenario.random_point(self.rng, self.radius_m),
        )

    def _bearing(self) -> float:
        return self.rng.uniform(0.0, 360.0)

    def _point_in_zone(self) -> GeoPoint:
        """A uniformly random point of a random zone (drawn in its bounding box)."""
        zone: NoFlyZone = self.rng.choice(self.scenario.zones)
        lats = [p.lat for p in zone.boundary]
        lons = [p.lon for p in zone.boundary]
        for _ in range(MAX_DRAWS):
            point = GeoPoint(
                round(self.rng.uniform(min(lats), max(lats)), 6),
                round(self.rng.uniform(min(lons), max(lons)), 6),
            )
            if self.rules.zone_at(point) is not None:
                return point
        raise ValueError(f"no point drawn inside the no-fly zone {zone.name!r}")


def _far(rng: random.Random) -> float:
    """A distance far outside any service area, log-uniform so near and far both come."""
    low, high = FAR_AWAY_M
    return math.exp(rng.uniform(math.log(low), math.log(high)))


def _destination(start: GeoPoint, bearing_deg: float, distance: float) -> GeoPoint:
    """The point `distance` metres from `start` along the geodesic at `bearing_deg`."""
    lon, lat, _ = WGS84.fwd(start.lon, start.lat, bearing_deg, distance)
    return GeoPoint(round(float(lat), 6), round((float(lon) + 540.0) % 360.0 - 180.0, 6))
