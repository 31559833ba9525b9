"""Demand through the API: one POST per order, as a business sends it, with its key."""

from __future__ import annotations

import json

import httpx
import pytest

from contracts import GeoPoint
from simulator.adapters.api_client import post_order
from simulator.world.demand import DeliveryOrder

ORDER = DeliveryOrder(pickup=GeoPoint(47.38, 8.54), dropoff=GeoPoint(47.39, 8.55))


def client(status: int, seen: list[httpx.Request]) -> httpx.AsyncClient:
    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status, json={"delivery_id": "d-1"})

    return httpx.AsyncClient(base_url="http://api", transport=httpx.MockTransport(answer))


async def test_an_order_is_posted_with_the_business_key_and_its_body_returned() -> None:
    seen: list[httpx.Request] = []
    async with client(202, seen) as http:
        body = await post_order(http, "key-1", ORDER)
    assert body == {"delivery_id": "d-1"}
    (request,) = seen
    assert (request.method, request.url.path) == ("POST", "/v1/deliveries")
    assert request.headers["X-API-Key"] == "key-1"
    assert json.loads(request.content) == {
        "pickup": {"lat": 47.38, "lon": 8.54},
        "dropoff": {"lat": 47.39, "lon": 8.55},
    }


async def test_without_a_key_no_key_header_is_sent_and_a_refusal_raises() -> None:
    seen: list[httpx.Request] = []
    async with client(401, seen) as http:
        with pytest.raises(httpx.HTTPStatusError):
            await post_order(http, "", ORDER)
    assert "X-API-Key" not in seen[0].headers
