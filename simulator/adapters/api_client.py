"""The simulator as a business on the platform's public REST API: one delivery request.

Why in the adapters: it is HTTP, and the world (`simulator.world.demand`) only draws
the orders; the runner decides whether they go through the API (this module) or
straight to Kafka, and owns the client and its connection pool.
"""

from __future__ import annotations

import httpx

from simulator.world.demand import DeliveryOrder


async def post_order(
    client: httpx.AsyncClient, api_key: str, order: DeliveryOrder
) -> dict[str, object]:
    """Request a delivery through the API, as a business would; returns its 202 body."""
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
