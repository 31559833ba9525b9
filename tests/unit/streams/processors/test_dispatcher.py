"""The dispatcher without Kafka: its fleet and queue tables are dicts."""

from __future__ import annotations

from datetime import timedelta

import msgspec

from contracts import (
    AssignDrone,
    DeliveryCancelled,
    DeliveryRescheduled,
    decode_command,
    decode_dead_letter,
)
from streams.domain.delivery import DeliveryState
from streams.processors.dispatcher import DispatchProcessor
from streams.processors.records import Outgoing
from tests.support.factories import DROPOFF, PICKUP, T0, fix, picked_up, requested
from tests.support.processor_inputs import milestone, record


def new_dispatcher() -> DispatchProcessor:
    return DispatchProcessor(fleet={}, queue={}, reservation_ttl=timedelta(seconds=60))


def assignments(outputs: list[Outgoing]) -> dict[str, str]:
    found = {}
    for out in outputs:
        command = decode_command(out.value)
        assert isinstance(command, AssignDrone) and out.topic == "delivery_commands"
        found[command.delivery_id] = command.drone_id
    return found


def test_dispatcher_assigns_the_nearest_idle_drone_once() -> None:
    dispatcher = new_dispatcher()
    assert dispatcher.process(record(fix("far", position=DROPOFF), "dispatch"), T0) == []
    assert dispatcher.process(record(fix("near", position=PICKUP), "dispatch"), T0) == []
    first = dispatcher.process(record(requested("d1"), "dispatch"), T0)
    second = dispatcher.process(record(requested("d2"), "dispatch"), T0)
    assert assignments(first) == {"d1": "near"}
    assert assignments(second) == {"d2": "far"}
    assert dispatcher.process(record(requested("d3"), "dispatch"), T0) == []  # no drone left
    assert [s.delivery_id for s in dispatcher.waiting()] == ["d3"]
    assert dispatcher.process(record(requested("d1"), "dispatch"), T0) == []  # redelivery


def test_a_stale_idle_fix_does_not_free_a_reserved_drone() -> None:
    dispatcher = new_dispatcher()
    dispatcher.process(record(fix("x", seq=1, position=PICKUP), "dispatch"), T0)
    dispatcher.process(record(requested("d1"), "dispatch"), T0)
    later = T0 + timedelta(seconds=1)
    idle_again = fix("x", seq=2, at=later, position=PICKUP)
    assert dispatcher.process(record(idle_again, "dispatch"), later) == []
    assert dispatcher.process(record(requested("d2"), "dispatch"), later) == []
    flying = fix("x", seq=3, at=T0 + timedelta(seconds=2), delivery_id="d1", phase="to_pickup")
    dispatcher.process(record(flying, "dispatch"), later)
    back = T0 + timedelta(minutes=5)
    freed = dispatcher.process(record(fix("x", seq=4, at=back, position=PICKUP), "dispatch"), back)
    assert assignments(freed) == {"d2": "x"}  # back home: the waiting delivery gets it


def test_an_unserved_reservation_expires() -> None:
    dispatcher = new_dispatcher()
    dispatcher.process(record(fix("x", seq=1, position=PICKUP), "dispatch"), T0)
    dispatcher.process(record(requested("d1"), "dispatch"), T0)
    dispatcher.process(record(requested("d2"), "dispatch"), T0)
    much_later = T0 + timedelta(seconds=61)
    out = dispatcher.process(
        record(fix("x", seq=2, at=much_later, position=PICKUP), "dispatch"), much_later
    )
    assert assignments(out) == {"d2": "x"}


def test_dispatcher_keeps_waiting_without_a_capable_drone() -> None:
    dispatcher = new_dispatcher()
    dispatcher.process(record(fix("weak", position=PICKUP, battery=15.0), "dispatch"), T0)
    assert dispatcher.process(record(requested(), "dispatch"), T0) == []
    assert [s.delivery_id for s in dispatcher.waiting()] == ["d1"]


def test_dispatch_frees_the_drone_of_a_cancelled_delivery() -> None:
    dispatcher = new_dispatcher()
    dispatcher.process(record(fix("x", position=PICKUP), "dispatch"), T0)
    assert assignments(dispatcher.process(record(requested("d1"), "dispatch"), T0)) == {"d1": "x"}
    cancelled = DeliveryCancelled(
        event_id="e",
        sequence=2,
        occurred_at=T0,
        recorded_at=T0,
        delivery_id="d1",
        requested_by="b1",
        reason="",
        drone_id=None,
    )
    dispatcher.process(record(cancelled, "dispatch"), T0)
    assert assignments(dispatcher.process(record(requested("d2"), "dispatch"), T0)) == {"d2": "x"}


def rescheduled(declined_by: tuple[str, ...], delivery_id: str = "d1") -> DeliveryRescheduled:
    return DeliveryRescheduled(
        event_id=f"r-{delivery_id}-{len(declined_by)}",
        sequence=1 + 2 * len(declined_by),
        occurred_at=T0,
        recorded_at=T0,
        delivery_id=delivery_id,
        drone_id=declined_by[-1],
        reason="battery",
        pickup=PICKUP,
        dropoff=DROPOFF,
        requested_at=T0,
        declined_by=declined_by,
    )


def test_dispatch_reassigns_a_rescheduled_delivery_to_another_drone() -> None:
    dispatcher = new_dispatcher()
    dispatcher.process(record(fix("near", position=PICKUP), "dispatch"), T0)
    dispatcher.process(record(fix("far", position=DROPOFF), "dispatch"), T0)
    assert assignments(dispatcher.process(record(requested("d1"), "dispatch"), T0)) == {
        "d1": "near"
    }
    # "near" refused: its reservation is freed, but it is not proposed for d1 again.
    out = dispatcher.process(record(rescheduled(("near",)), "dispatch"), T0)
    assert assignments(out) == {"d1": "far"}
    assert assignments(dispatcher.process(record(requested("d2"), "dispatch"), T0)) == {
        "d2": "near"
    }


def test_a_rescheduled_delivery_no_drone_can_take_keeps_waiting() -> None:
    dispatcher = new_dispatcher()
    dispatcher.process(record(fix("only", position=PICKUP), "dispatch"), T0)
    assert dispatcher.process(record(rescheduled(("only",)), "dispatch"), T0) == []
    assert [(s.delivery_id, s.status) for s in dispatcher.waiting()] == [("d1", "rescheduled")]
    assert dispatcher.process(record(rescheduled(("only",)), "dispatch"), T0) == []  # redelivered
    newcomer = fix("new", position=DROPOFF)
    assert assignments(dispatcher.process(record(newcomer, "dispatch"), T0)) == {"d1": "new"}


def test_a_returned_or_charged_milestone_makes_a_drone_available_at_once() -> None:
    dispatcher = new_dispatcher()
    flying = fix("x", seq=1, position=DROPOFF, delivery_id="other", phase="returning")
    dispatcher.process(record(flying, "dispatch"), T0)
    assert dispatcher.process(record(requested("d1"), "dispatch"), T0) == []  # nobody idle
    low = milestone("x", "battery_low", T0 + timedelta(seconds=1), battery=24.0)
    assert dispatcher.process(record(low, "dispatch"), T0) == []
    back = milestone("x", "returned", T0 + timedelta(seconds=2), battery=24.0)
    assert dispatcher.process(record(back, "dispatch"), T0) == [], "too little battery yet"
    full = milestone("x", "charged", T0 + timedelta(minutes=5), battery=100.0)
    assert assignments(dispatcher.process(record(full, "dispatch"), T0)) == {"d1": "x"}
    stale = milestone("x", "aborted", T0, battery=50.0)
    assert dispatcher.process(record(stale, "dispatch"), T0) == [], "older than its view"


def test_a_queue_entry_written_as_the_aggregate_s_state_still_reads() -> None:
    # Before dispatch had its own queue record, the queue table held `DeliveryState`s.
    old = DeliveryState(
        delivery_id="d0",
        business_id="",
        status="rescheduled",
        pickup=PICKUP,
        dropoff=DROPOFF,
        version=3,
        requested_at=T0,
        declined_by=("near",),
    )
    dispatcher = DispatchProcessor(fleet={}, queue={b"d0": msgspec.json.encode(old)})
    (waiting,) = dispatcher.waiting()
    assert (waiting.delivery_id, waiting.status, waiting.declined_by) == (
        "d0",
        "rescheduled",
        ("near",),
    )
    assert dispatcher.process(record(fix("near", position=PICKUP), "dispatch"), T0) == []
    assert assignments(
        dispatcher.process(record(fix("far", position=DROPOFF), "dispatch"), T0)
    ) == {"d0": "far"}


def test_dispatch_dead_letters_garbage_and_foreign_events() -> None:
    dispatcher = new_dispatcher()
    (garbage,) = dispatcher.process(record(b"\x00", "dispatch"), T0)
    (foreign,) = dispatcher.process(record(picked_up(), "dispatch"), T0)
    letters = [decode_dead_letter(out.value) for out in (garbage, foreign)]
    assert [(letter.reason, letter.processor) for letter in letters] == [
        ("undecodable", "dispatch"),
        ("unexpected_type", "dispatch"),
    ]
    assert letters[1].detail == "PickedUp"
