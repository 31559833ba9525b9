"""Demand through the API: one POST per order, as a business sends it, with its key."""

from __future__ import annotations

import json

import httpx
import pytest

from contracts import GeoPoint
from simulator.adapters.api_client import DemandTally, OrderAnswer, post_order
from simulator.world.demand import DeliveryOrder

ORDER = DeliveryOrder(pickup=GeoPoint(47.38, 8.54), dropoff=GeoPoint(47.39, 8.55))
FAR = DeliveryOrder(GeoPoint(-33.86, 151.21), ORDER.dropoff, unservable="outside_service_area")


def client(
    status: int, seen: list[httpx.Request], body: dict[str, object] | None = None
) -> httpx.AsyncClient:
    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status, json=body or {"delivery_id": "d-1"})

    return httpx.AsyncClient(base_url="http://api", transport=httpx.MockTransport(answer))


async def test_an_order_is_posted_with_the_business_key_and_its_body_returned() -> None:
    seen: list[httpx.Request] = []
    async with client(202, seen) as http:
        answer = await post_order(http, "key-1", ORDER)
    assert answer == OrderAnswer({"delivery_id": "d-1"})
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


async def test_an_unservable_refusal_is_an_answer_with_its_reason() -> None:
    problem = {"status": 422, "reason": "outside_service_area", "detail": "..."}
    async with client(422, [], problem) as http:
        answer = await post_order(http, "key-1", FAR)
    assert answer.refused == "outside_service_area"


async def test_a_422_without_a_reason_is_an_error_not_a_refusal() -> None:
    """The API could not read the body: the simulator's bug, never counted as refused."""
    async with client(422, [], {"status": 422, "detail": "invalid body"}) as http:
        with pytest.raises(httpx.HTTPStatusError):
            await post_order(http, "key-1", ORDER)


def test_the_tally_holds_each_answer_against_what_the_order_was_drawn_to_be() -> None:
    tally = DemandTally()
    zoned = DeliveryOrder(ORDER.pickup, ORDER.dropoff, unservable="pickup_in_no_fly_zone")
    tally.record(ORDER, OrderAnswer({}))
    tally.record(FAR, OrderAnswer({}, refused="outside_service_area"))
    tally.record(FAR, OrderAnswer({}, refused="beyond_range"))
    tally.record(zoned, OrderAnswer({}))
    tally.record(ORDER, OrderAnswer({}, refused="beyond_range"))
    assert tally.summary() == {
        "servable_refused": 1,
        "unservable_asked": 3,
        "unservable_refused_as_expected": 1,
        "unservable_refused_otherwise": 1,
        "unservable_accepted": 1,
        "unservable_asked:outside_service_area": 2,
        "unservable_refused:outside_service_area": 1,
        "unservable_asked:pickup_in_no_fly_zone": 1,
        "unservable_refused:pickup_in_no_fly_zone": 0,
    }
    plain = DemandTally()
    plain.record(ORDER, OrderAnswer({}))
    assert plain.summary() == {}, "an ordinary run's summary reads as before"
