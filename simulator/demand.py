"""Demand: delivery requests arriving as a Poisson process, sent through the REST API.

The arrival times and the points are drawn from a seeded generator; posting goes through
the platform's public API, exactly as a business would.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import httpx

from contracts import GeoPoint
from simulator.scenario import Scenario


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


async def post_order(
    client: httpx.AsyncClient, api_key: str, order: DeliveryOrder
) -> dict[str, object]:
    """Request a delivery through the API; returns its 202 body."""
    response = await client.post(
        "/v1/deliveries",
        json={
            "pickup": {"lat": order.pickup.lat, "lon": order.pickup.lon},
            "dropoff": {"lat": order.dropoff.lat, "lon": order.dropoff.lon},
        },
        headers={"X-API-Key": api_key} if api_key else {},
    )
    response.raise_for_status()
    body: dict[str, object] = response.json()
    return body
