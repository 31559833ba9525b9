"""Demand: the same seed draws the same requests, as the API would write them."""

from __future__ import annotations

import msgspec

from contracts import encode_event
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
