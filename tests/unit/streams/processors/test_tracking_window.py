"""The tracking emitter gives each ETA its window and learns from its own arrivals.

Through the deliveries processor (dicts for tables): every update with an ETA carries an
earliest and a latest arrival (issue 19 part 4), the delivered update none; the delivery's
arrival teaches the worker's `EtaWindow`, so the next delivery's window is the learned one.
"""

from __future__ import annotations

from datetime import timedelta

import msgspec

from contracts import TrackingUpdated, decode_event
from streams.processors.delivery_processor import DeliveryProcessor
from streams.processors.delivery_repository import DeliveryRepository
from streams.processors.records import Outgoing
from tests.support.factories import PICKUP, T0, assigned, delivered, fix, picked_up, requested
from tests.support.processor_inputs import record


def processor(*, window: bool = True) -> DeliveryProcessor:
    return DeliveryProcessor.over_tables(
        DeliveryRepository(states={}, tracking={}, parked={}),
        commands_topic="delivery-commands",
        min_interval=timedelta(seconds=1),
        window=window,
    )


def fly(p: DeliveryProcessor, delivery: str, seconds: int = 60) -> list[TrackingUpdated]:
    """Picked up at T0 + 2 min, a fix a second from there for `seconds`, delivered at 4 min."""
    for event in (requested(delivery), assigned(delivery), picked_up(delivery)):
        p.process(record(event, "deliveries"), T0)
    start = T0 + timedelta(minutes=2)
    sent: list[TrackingUpdated] = []

    def keep(outgoing: list[Outgoing]) -> None:
        for out in outgoing:
            update = decode_event(out.value)
            if isinstance(update, TrackingUpdated):
                sent.append(update)

    for second in range(seconds):
        at = start + timedelta(seconds=second)
        one = fix(seq=second + 1, at=at, position=PICKUP, delivery_id=delivery, phase="to_dropoff")
        keep(p.process(record(msgspec.structs.replace(one, ground_speed_mps=15.0), "dt"), at))
    end = delivered(delivery)
    keep(p.process(record(end, "deliveries"), end.occurred_at))
    return sent


def test_each_update_with_an_eta_carries_its_window_and_the_delivered_one_none() -> None:
    updates = fly(processor(), "d1")
    flying = [u for u in updates if u.status == "en_route_to_dropoff"]
    assert len(flying) == 60
    for update in flying:
        assert update.eta is not None
        assert update.eta_earliest is not None and update.eta_latest is not None
        assert update.occurred_at <= update.eta_earliest <= update.eta_latest
    (last,) = [u for u in updates if u.status == "delivered"]
    assert (last.eta_earliest, last.eta_latest) == (None, None)


def test_an_arrival_teaches_the_window_of_the_next_delivery() -> None:
    p = processor()
    fresh = fly(processor(), "d1")  # a worker that has learned nothing: the prior's window
    first = fly(p, "d1")
    assert p.tracking.window is not None and sum(p.tracking.window.learned()) > 0
    second = fly(p, "d2")
    assert [(u.eta_earliest, u.eta_latest) for u in first] == [
        (u.eta_earliest, u.eta_latest) for u in fresh
    ]
    # Same flight, same ETAs: the learned window (these ETAs were early by minutes) moves.
    assert [u.eta for u in second] == [u.eta for u in first]
    assert second[0].eta_latest != first[0].eta_latest


def test_without_a_window_the_updates_carry_none() -> None:
    updates = fly(processor(window=False), "d1")
    assert all(u.eta_earliest is None and u.eta_latest is None for u in updates)
