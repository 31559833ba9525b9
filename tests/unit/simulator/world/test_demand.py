"""Demand: the same seed draws the same requests, as the API would write them."""

from __future__ import annotations

from collections import Counter

import msgspec

from contracts import encode_event
from contracts.airspace import distance_m
from simulator.world.demand import PoissonDemand
from tests.support.factories import T0
from tests.support.flight import ZURICH


def test_demand_for_kafka_is_the_same_for_the_same_seed() -> None:
    def draw(seed: int) -> list[bytes]:
        demand = PoissonDemand(ZURICH, 60.0, 3_000.0, seed)
        return [
            encode_event(msgspec.structs.replace(demand.next_request("b1", T0)))
            + str(demand.next_gap_s()).encode()
            for _ in range(5)
        ]

    assert draw(1) == draw(1)
    assert draw(1) != draw(2)
    request = PoissonDemand(ZURICH, 60.0, 3_000.0, 1).next_request("b1", T0)
    assert request.sequence == 1 and request.business_id == "b1"


def test_impossible_orders_come_at_their_share_each_refused_by_the_api_s_rules() -> None:
    """Every impossible order gets exactly the reason it was drawn for from the rules the
    API applies; every other one passes them; all four reasons come."""
    demand = PoissonDemand(ZURICH, 60.0, 4_000.0, 3, impossible_share=25.0)
    orders = [demand.next_order() for _ in range(2_000)]
    kinds = Counter(order.unservable for order in orders)
    for order in orders:
        refused = demand.rules.refusal(order.pickup, order.dropoff)
        assert (refused[0] if refused else None) == order.unservable, order
    assert set(kinds) == {None, *demand.unservable_kinds}
    assert len(demand.unservable_kinds) == 4
    assert 400 < sum(n for kind, n in kinds.items() if kind is not None) < 600


def test_the_impossible_places_are_the_issue_s() -> None:
    """A pickup in a zone, a pickup far away (hundreds of km and more), a drop-off more
    than the range away from its pickup."""
    demand = PoissonDemand(ZURICH, 60.0, 4_000.0, 5, impossible_share=100.0)
    zoned = demand.unservable_order("pickup_in_no_fly_zone")
    assert demand.rules.zone_at(zoned.pickup) is not None
    far = [demand.unservable_order("outside_service_area") for _ in range(50)]
    assert min(distance_m(order.pickup, ZURICH.center) for order in far) > 40_000
    assert max(distance_m(order.pickup, ZURICH.center) for order in far) > 1_000_000
    beyond = demand.unservable_order("beyond_range")
    assert distance_m(beyond.pickup, beyond.dropoff) > ZURICH.range_m


def test_without_a_share_no_impossible_order_and_the_kafka_path_never_has_one() -> None:
    plain = PoissonDemand(ZURICH, 60.0, 4_000.0, 7)
    assert all(plain.next_order().unservable is None for _ in range(500))
    mixed = PoissonDemand(ZURICH, 60.0, 4_000.0, 7, impossible_share=100.0)
    for _ in range(200):
        request = mixed.next_request("b1", T0)
        assert mixed.rules.refusal(request.pickup, request.dropoff) is None


def test_demand_with_an_end_stops_drawing_requests_after_it() -> None:
    demand = PoissonDemand(ZURICH, 60.0, 4_000.0, 1, for_s=30.0)
    gaps: list[float] = []
    while (gap := demand.next_gap_s()) is not None:
        gaps.append(gap)
    assert 10 < len(gaps) < 60 and sum(gaps) <= 30.0
    endless = PoissonDemand(ZURICH, 60.0, 4_000.0, 1)
    assert all(endless.next_gap_s() is not None for _ in range(1_000))
