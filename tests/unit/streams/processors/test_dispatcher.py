"""The dispatcher without Kafka: its fleet and queue tables are dicts."""

from __future__ import annotations

from datetime import datetime, timedelta

import msgspec

from contracts import (
    AssignDrone,
    DeliveryCancelled,
    DeliveryRescheduled,
    DroneFound,
    DroneLost,
    ExpireRequest,
    LivenessTick,
    WithdrawAssignment,
    decode_command,
    decode_dead_letter,
    decode_event,
)
from streams.domain.delivery import DeliveryState
from streams.processors.dispatcher import DispatchProcessor
from streams.processors.records import Outgoing, SourceRecord
from tests.support.factories import DROPOFF, PICKUP, T0, fix, picked_up, requested
from tests.support.processor_inputs import fleet_heard, milestone, record


def new_dispatcher() -> DispatchProcessor:
    return DispatchProcessor(
        fleet={},
        queue={},
        take_up_within=timedelta(seconds=60),
        silent_after=timedelta(seconds=15),
        promise=timedelta(minutes=30),
    )


def tick(at: datetime) -> SourceRecord:
    """The worker's clock at `at`, as the dispatch topic carries it."""
    return record(
        LivenessTick(event_id="t", sequence=1, occurred_at=at, recorded_at=at, worker="w"),
        "dispatch",
    )


def withdrawals(outputs: list[Outgoing]) -> list[tuple[str, str, str]]:
    found = []
    for out in outputs:
        if out.topic == "delivery_commands":
            command = decode_command(out.value)
            if isinstance(command, WithdrawAssignment):
                found.append((command.delivery_id, command.drone_id, command.reason))
    return found


def facts(outputs: list[Outgoing]) -> list[tuple[str, str]]:
    """Dispatch's own facts it wrote (DroneLost, DroneFound): type and drone."""
    found = []
    for out in outputs:
        if out.topic == "dispatch":
            event = decode_event(out.value)
            assert isinstance(event, DroneLost | DroneFound)
            found.append((event.event_type, event.drone_id))
    return found


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
    # Its mission over, it flies home (the gate passes on the change of mission) and lands.
    home = fix("x", seq=4, at=T0 + timedelta(minutes=4), phase="returning", speed=10.0)
    assert dispatcher.process(record(home, "dispatch"), later) == []
    back = T0 + timedelta(minutes=5)
    freed = dispatcher.process(record(fix("x", seq=5, at=back, position=PICKUP), "dispatch"), back)
    assert assignments(freed) == {"d2": "x"}  # back home: the waiting delivery gets it


def test_an_unserved_reservation_expires() -> None:
    """Issue 17: it used to free the drone silently, and the delivery stayed assigned to
    a drone that never flew it; now the delivery is withdrawn (and rescheduled)."""
    dispatcher = new_dispatcher()
    dispatcher.process(tick(T0), T0)
    dispatcher.process(record(fix("x", seq=1, position=PICKUP), "dispatch"), T0)
    dispatcher.process(record(requested("d1"), "dispatch"), T0)
    dispatcher.process(record(requested("d2"), "dispatch"), T0)
    for second in range(10, 61, 10):  # it keeps reporting idle, without the delivery
        at = T0 + timedelta(seconds=second)
        dispatcher.process(record(fix("x", seq=second, at=at, position=PICKUP), "dispatch"), at)
        assert dispatcher.process(tick(at), at) == []
    much_later = T0 + timedelta(seconds=61)
    out = dispatcher.process(tick(much_later), much_later)
    assert withdrawals(out) == [("d1", "x", "not_taken_up")]
    assert assignments(out[1:]) == {"d2": "x"}


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


def seconds(n: float) -> datetime:
    return T0 + timedelta(seconds=n)


def test_a_silent_drone_is_lost_its_delivery_withdrawn_and_found_when_it_reports() -> None:
    dispatcher = new_dispatcher()
    dispatcher.process(tick(T0), T0)
    dispatcher.process(record(fix("x", seq=1, position=PICKUP), "dispatch"), T0)
    dispatcher.process(record(fix("y", seq=1, position=DROPOFF), "dispatch"), T0)
    assert assignments(dispatcher.process(record(requested("d1"), "dispatch"), T0)) == {"d1": "x"}
    # x goes silent; y keeps reporting (idle).
    for n in (5, 10, 15):
        dispatcher.process(record(fix("y", seq=n, at=seconds(n), position=DROPOFF), "dispatch"), T0)
        assert dispatcher.process(tick(seconds(n)), T0) == [], "15 s is not yet silent"
    lost = dispatcher.process(tick(seconds(16)), T0)
    assert facts(lost) == [("DroneLost", "x")]
    assert withdrawals(lost) == [("d1", "x", "drone_lost")]
    assert dispatcher.counts == {"drone_lost": 1, "withdrawn_drone_lost": 1}
    assert dispatcher.process(tick(seconds(20)), T0) == [], "lost once, said once"
    # Lost: not proposed, even for a new delivery it is nearest to.
    assert assignments(dispatcher.process(record(requested("d2"), "dispatch"), T0)) == {"d2": "y"}
    assert dispatcher.process(record(requested("d3"), "dispatch"), T0) == []
    back = dispatcher.process(
        record(fix("x", seq=2, at=seconds(30), position=PICKUP), "dispatch"), T0
    )
    assert facts(back) == [("DroneFound", "x")]
    assert assignments(back[1:]) == {"d3": "x"}, "found: proposed again"


def test_a_drone_silent_on_its_mission_has_its_delivery_withdrawn() -> None:
    dispatcher = new_dispatcher()
    dispatcher.process(tick(T0), T0)
    dispatcher.process(record(fix("x", seq=1, position=PICKUP), "dispatch"), T0)
    dispatcher.process(record(requested("d1"), "dispatch"), T0)
    flying = fix("x", seq=2, at=seconds(1), delivery_id="d1", phase="to_dropoff")
    dispatcher.process(record(flying, "dispatch"), T0)
    out = dispatcher.process(tick(seconds(17)), T0)
    assert withdrawals(out) == [("d1", "x", "drone_lost")]
    assert facts(out) == [("DroneLost", "x")]


def test_a_drone_idle_without_its_mission_forgot_it_but_one_back_home_did_not() -> None:
    dispatcher = new_dispatcher()
    dispatcher.process(tick(T0), T0)
    dispatcher.process(record(fix("x", seq=1, position=PICKUP), "dispatch"), T0)
    dispatcher.process(record(fix("y", seq=1, position=PICKUP), "dispatch"), T0)
    dispatcher.process(record(requested("d1"), "dispatch"), T0)
    dispatcher.process(record(requested("d2"), "dispatch"), T0)
    for drone, delivery in (("x", "d1"), ("y", "d2")):
        on_it = fix(drone, seq=2, at=seconds(1), delivery_id=delivery, phase="to_dropoff")
        assert dispatcher.process(record(on_it, "dispatch"), T0) == []
    # y delivers and flies home (no delivery), then lands: a normal end.
    home = fix("y", seq=3, at=seconds(2), phase="returning")
    assert dispatcher.process(record(home, "dispatch"), T0) == []
    landed = dispatcher.process(record(fix("y", seq=4, at=seconds(3)), "dispatch"), T0)
    assert withdrawals(landed) == []
    # x reports idle with no delivery straight from its mission: a restarted simulator.
    restarted = dispatcher.process(record(fix("x", seq=1, at=seconds(4)), "dispatch"), T0)
    assert withdrawals(restarted) == [("d1", "x", "drone_lost")]
    assert dispatcher.counts["mission_forgotten"] == 1


def test_a_delivery_no_drone_takes_within_the_promise_expires() -> None:
    dispatcher = new_dispatcher()
    dispatcher.process(record(requested("d1"), "dispatch"), T0)  # before any tick
    dispatcher.process(tick(seconds(10)), T0)  # its wait starts here
    dispatcher.process(tick(seconds(100)), T0)
    dispatcher.process(record(requested("d2"), "dispatch"), T0)  # waits from 100 s
    assert dispatcher.process(tick(seconds(10 + 1800)), T0) == []
    out = dispatcher.process(tick(seconds(10 + 1801)), T0)
    (expiry,) = [decode_command(o.value) for o in out if o.topic == "delivery_commands"]
    assert isinstance(expiry, ExpireRequest) and expiry.delivery_id == "d1"
    assert [w.delivery_id for w in dispatcher.waiting()] == ["d2"]
    assert dispatcher.counts == {"expired_no_drone_available": 1}


def test_the_clock_only_moves_on_and_decisions_replay_the_same() -> None:
    """A rebuild reads the same ticks between the same fixes: the same decisions."""
    inputs = [
        tick(T0),
        record(fix("x", seq=1, position=PICKUP), "dispatch"),
        record(requested("d1"), "dispatch"),
        tick(seconds(20)),
        tick(seconds(5)),  # an old leader's tick, read late: ignored
        record(fix("x", seq=2, at=seconds(21), position=PICKUP), "dispatch"),
        tick(seconds(90)),
        record(requested("d2"), "dispatch"),
        tick(seconds(2000)),
    ]

    def decisions() -> list[tuple[str, ...]]:
        dispatcher = new_dispatcher()
        found: list[tuple[str, ...]] = []
        for n, item in enumerate(inputs):
            wall = T0 + timedelta(hours=n)  # the processing wall clock must not matter
            for out in dispatcher.process(item, wall):
                value = decode_command(out.value) if out.topic == "delivery_commands" else None
                if value is not None:
                    found.append((value.command_type, value.delivery_id))
                else:
                    event = decode_event(out.value)
                    found.append((event.event_type, event.occurred_at.isoformat()))
        return found

    first = decisions()
    assert first == decisions()
    assert first == [
        ("AssignDrone", "d1"),
        ("DroneLost", seconds(20).isoformat()),
        ("WithdrawAssignment", "d1"),
        ("DroneFound", seconds(20).isoformat()),
        ("DroneLost", seconds(90).isoformat()),  # silent again since
        ("ExpireRequest", "d2"),  # queued at 90 s, nobody took it for 30 min
    ]


class CountingTable(dict[bytes, bytes]):
    """A fleet table that counts its writes (each is a changelog record in the worker)."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self.writes += 1
        super().__setitem__(key, value)


def test_one_fleet_heard_record_tells_dispatch_of_many_drones_in_one_round() -> None:
    dispatcher = new_dispatcher()
    dispatcher.process(tick(T0), T0)
    assert dispatcher.process(record(requested("d1"), "dispatch"), T0) == []
    told = fleet_heard(fix("far", position=DROPOFF), fix("near", position=PICKUP))
    assert assignments(dispatcher.process(told, T0)) == {"d1": "near"}
    assert dispatcher.waiting() == []
    again = fleet_heard(fix("far", seq=2, at=seconds(1), position=DROPOFF))
    assert dispatcher.process(again, T0) == [], "nothing waits: no round"


def test_a_drone_heard_again_with_nothing_new_costs_no_table_write() -> None:
    fleet = CountingTable()
    dispatcher = DispatchProcessor(fleet=fleet, queue={}, silent_after=timedelta(seconds=15))
    dispatcher.process(tick(T0), T0)
    written = fleet.writes
    dispatcher.process(fleet_heard(fix("x", position=PICKUP)), T0)
    assert fleet.writes == written + 1, "a new drone is written"
    for n in range(1, 6):  # idle where it was, heard every second
        dispatcher.process(fleet_heard(fix("x", seq=n + 1, at=seconds(n), position=PICKUP)), T0)
    assert fleet.writes == written + 1
    flying = fix("x", seq=8, at=seconds(7), position=PICKUP, delivery_id="d1", phase="to_pickup")
    dispatcher.process(fleet_heard(flying), T0)
    assert fleet.writes == written + 2, "a new mission is written"
    further = fix("x", seq=9, at=seconds(8), position=DROPOFF, delivery_id="d1", phase="to_pickup")
    dispatcher.process(fleet_heard(further), T0)
    assert fleet.writes == written + 2, "a busy drone's position waits for its next change"


def test_after_a_recovery_silence_counts_from_the_recovered_clock() -> None:
    """The table keeps `heard_at` only with material changes: a recovered drone is not lost
    for having said nothing new, and a truly silent one still is, `silent_after` later."""
    dispatcher = new_dispatcher()  # silent after 15 s
    dispatcher.process(tick(T0), T0)
    dispatcher.process(fleet_heard(fix("x", position=PICKUP)), T0)  # written, heard at 0
    for n in (5, 10):
        dispatcher.process(fleet_heard(fix("x", seq=n, at=seconds(n), position=PICKUP)), T0)
        dispatcher.process(tick(seconds(n)), T0)
    dispatcher.forget_fleet_index()  # a rebalance: the table is all the new owner has
    assert dispatcher.process(tick(seconds(20)), T0) == [], "heard at 10, recovered at 10"
    assert facts(dispatcher.process(tick(seconds(26)), T0)) == [("DroneLost", "x")]
