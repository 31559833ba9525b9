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
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime

from contracts import DeliveryRequested, GeoPoint
from simulator.world.scenario import Scenario


@dataclass(frozen=True, slots=True)
class DeliveryOrder:
    """One generated request."""

    pickup: GeoPoint
    dropoff: GeoPoint


class PoissonDemand:
    """Draws inter-arrival gaps and orders from a seeded generator."""

    def __init__(self, scenario: Scenario, per_minute: float, radius_m: float, seed: int) -> None:
        self.scenario = scenario
        self.rate_per_s = per_minute / 60.0
        self.radius_m = radius_m
        self.rng = random.Random(seed ^ 0x5EED)

    def next_gap_s(self) -> float:
        """Seconds until the next request."""
        return self.rng.expovariate(self.rate_per_s)

    def next_order(self) -> DeliveryOrder:
        """A pickup and a drop-off in the service area."""
        return DeliveryOrder(
            pickup=self.scenario.random_point(self.rng, self.radius_m),
            dropoff=self.scenario.random_point(self.rng, self.radius_m),
        )

    def next_request(self, business_id: str, now: datetime) -> DeliveryRequested:
        """The next order as the event the API would write, with ids from the generator."""
        order = self.next_order()
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
