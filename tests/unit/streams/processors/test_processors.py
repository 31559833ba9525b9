"""The agents' logic without Kafka: gate, delivery processor and dispatcher, with dicts."""

from __future__ import annotations

from datetime import datetime, timedelta

from contracts import (
    AssignDrone,
    CancelDelivery,
    DeliveryCancelled,
    DeliveryFailed,
    DeliveryRescheduled,
    DroneAssigned,
    DroneMilestone,
    RefuseAssignment,
    ReportAbort,
    ReportPickup,
    TrackingUpdated,
    decode_command,
    decode_dead_letter,
    decode_event,
    encode_command,
    encode_event,
)
from contracts.events import Event
from streams.processors.delivery_processor import DeliveryProcessor
from streams.processors.dispatcher import DispatchProcessor
from streams.processors.records import Outgoing, SourceRecord
from streams.processors.telemetry_gate import FLEET_KEY, TelemetryGate
from tests.support.factories import (
    DEPOT,
    DROPOFF,
    PICKUP,
    T0,
    assigned,
    delivered,
    fix,
    picked_up,
    requested,
)


def record(event: Event | bytes, topic: str = "telemetry", offset: int = 0) -> SourceRecord:
    value = event if isinstance(event, bytes) else encode_event(event)
    return SourceRecord(topic, 0, offset, b"k", value)


def test_gate_dead_letters_garbage_with_reason_and_original_bytes() -> None:
    gate = TelemetryGate()
    (out,) = gate.process(record(b"\x00garbage"), T0)
    assert out.topic == "deadletter"
    letter = decode_dead_letter(out.value)
    assert letter.reason == "undecodable"
    assert letter.original_value() == b"\x00garbage"
    assert gate.counts == {"undecodable": 1}


def test_gate_routes_on_mission_fixes_by_delivery_and_tells_dispatch_of_changes() -> None:
    gate = TelemetryGate(fleet_refresh=timedelta(seconds=30))
    (first,) = gate.process(record(fix(seq=1)), T0)
    assert (first.topic, first.key) == ("dispatch", FLEET_KEY)  # a drone dispatch never saw
    assert gate.process(record(fix(seq=2, at=T0 + timedelta(seconds=1))), T0) == []  # no news
    on_mission = fix(seq=3, at=T0 + timedelta(seconds=2), delivery_id="d1", phase="to_pickup")
    outs = gate.process(record(on_mission), T0)
    assert [(o.topic, o.key) for o in outs] == [
        ("delivery_telemetry", b"d1"),
        ("dispatch", FLEET_KEY),
    ]
    later = fix(seq=4, at=T0 + timedelta(seconds=40))
    assert [o.topic for o in gate.process(record(later), later.occurred_at)] == ["dispatch"]


def test_gate_refuses_a_duplicate() -> None:
    gate = TelemetryGate()
    gate.process(record(fix(seq=1)), T0)
    (out,) = gate.process(record(fix(seq=1)), T0)
    assert decode_dead_letter(out.value).reason == "duplicate_sequence"


def new_processor() -> DeliveryProcessor:
    return DeliveryProcessor(states={}, tracking={}, min_interval=timedelta(seconds=1))


def test_processor_folds_events_and_forwards_new_requests_to_dispatch() -> None:
    processor = new_processor()
    (forwarded,) = processor.process(record(requested(), "deliveries"), T0)
    assert forwarded.topic == "dispatch"
    assert processor.process(record(requested(), "deliveries"), T0) == []  # a replay: nothing new
    processor.process(record(assigned(), "deliveries"), T0)
    state = processor.state("d1")
    assert state is not None and state.status == "assigned"


def test_processor_dead_letters_an_illegal_transition() -> None:
    processor = new_processor()
    (out,) = processor.process(record(picked_up(seq=1), "deliveries"), T0)
    assert decode_dead_letter(out.value).reason == "illegal_transition"


def test_fixes_become_tracking_updates_at_most_once_per_interval() -> None:
    processor = new_processor()
    processor.process(record(requested(), "deliveries"), T0)
    processor.process(record(assigned(), "deliveries"), T0)
    first = processor.process(
        record(fix(seq=1, position=PICKUP, delivery_id="d1", phase="to_pickup", speed=15.0), "dt"),
        T0,
    )
    assert len(first) == 1
    update = decode_event(first[0].value)
    assert isinstance(update, TrackingUpdated)
    assert update.status == "en_route_to_pickup"
    assert update.eta is not None and update.eta > T0
    too_soon = processor.process(
        record(
            fix(
                seq=2,
                at=T0 + timedelta(milliseconds=500),
                position=PICKUP,
                delivery_id="d1",
                phase="to_pickup",
                speed=15.0,
            ),
            "dt",
        ),
        T0,
    )
    assert too_soon == []


def test_delivered_emits_a_final_update_at_the_dropoff() -> None:
    processor = new_processor()
    for event in (requested(), assigned()):
        processor.process(record(event, "deliveries"), T0)
    processor.process(
        record(fix(seq=1, position=PICKUP, delivery_id="d1", phase="to_pickup"), "dt"), T0
    )
    processor.process(record(picked_up(), "deliveries"), T0)
    (out,) = processor.process(record(delivered(), "deliveries"), T0)
    final = decode_event(out.value)
    assert isinstance(final, TrackingUpdated)
    assert final.status == "delivered"
    assert (final.lat, final.lon) == (DROPOFF.lat, DROPOFF.lon)
    assert final.remaining_m == 0 and final.eta == delivered().occurred_at


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


def test_the_eta_counts_the_dwell_down_while_hovering_at_the_dropoff() -> None:
    processor = new_processor()
    for event in (requested(), assigned(), picked_up()):
        processor.process(record(event, "deliveries"), T0)
    etas = []
    for second in range(3):
        at = T0 + timedelta(seconds=3 + 2 * second)
        (out,) = processor.process(
            record(
                fix(seq=second + 1, at=at, position=DROPOFF, delivery_id="d1", phase="at_dropoff"),
                "dt",
            ),
            T0,
        )
        update = decode_event(out.value)
        assert isinstance(update, TrackingUpdated) and update.eta is not None
        etas.append(update.eta)
    assert etas[0] == etas[1] == etas[2], "hovering does not push the arrival back"
    assert etas[0] == T0 + timedelta(seconds=3 + processor.eta_model.dropoff_dwell_s)


def command_record(command: AssignDrone | CancelDelivery | ReportPickup) -> SourceRecord:
    return SourceRecord("delivery-commands", 0, 0, b"d1", encode_command(command))


def test_an_accepted_command_is_applied_at_once_and_appended() -> None:
    processor = new_processor()
    processor.process(record(requested(), "deliveries"), T0)
    proposal = AssignDrone(command_id="c1", delivery_id="d1", issued_at=T0, drone_id="drone-1")
    (appended,) = processor.process(command_record(proposal), T0)
    assert appended.topic == "deliveries"
    event = decode_event(appended.value)
    assert isinstance(event, DroneAssigned) and event.sequence == 2
    assert processor.state("d1").status == "assigned"  # type: ignore[union-attr]
    assert processor.process(record(event, "deliveries"), T0) == []  # its return is ignored


def test_a_cancellation_ends_tracking_and_tells_dispatch() -> None:
    processor = new_processor()
    processor.process(record(requested(), "deliveries"), T0)
    cancel = CancelDelivery(command_id="c2", delivery_id="d1", issued_at=T0, requested_by="b1")
    outs = processor.process(command_record(cancel), T0)
    assert [o.topic for o in outs] == ["deliveries", "dispatch", "tracking"]
    assert isinstance(decode_event(outs[0].value), DeliveryCancelled)
    final = decode_event(outs[2].value)
    assert isinstance(final, TrackingUpdated)
    assert final.status == "cancelled" and final.eta is None


def test_a_refused_command_is_dead_lettered_with_its_reason() -> None:
    processor = new_processor()
    for event in (requested(), assigned(), picked_up()):
        processor.process(record(event, "deliveries"), T0)
    cancel = CancelDelivery(command_id="c2", delivery_id="d1", issued_at=T0, requested_by="b1")
    (out,) = processor.process(command_record(cancel), T0)
    letter = decode_dead_letter(out.value)
    assert letter.reason == "command_refused" and "picked_up" in letter.detail


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


def test_a_command_read_before_its_request_waits_for_it() -> None:
    processor = new_processor()
    cancel = CancelDelivery(command_id="c9", delivery_id="d1", issued_at=T0, requested_by="b1")
    assert processor.process(command_record(cancel), T0) == []  # no such delivery yet: parked
    outs = processor.process(record(requested(), "deliveries"), T0)
    assert [o.topic for o in outs] == ["dispatch", "deliveries", "dispatch", "tracking"]
    assert processor.state("d1").status == "cancelled"  # type: ignore[union-attr]
    assert processor.parked == {}


def give_up_record(kind: type, drone_id: str, reason: str) -> SourceRecord:
    command = kind(
        command_id=f"give-up-{drone_id}",
        delivery_id="d1",
        issued_at=T0,
        drone_id=drone_id,
        reason=reason,
        observed_at=T0 + timedelta(seconds=30),
    )
    return SourceRecord("delivery-commands", 0, 0, b"d1", encode_command(command))


def test_an_abort_before_pickup_reschedules_tells_dispatch_and_the_customer() -> None:
    processor = new_processor()
    for event in (requested(), assigned()):
        processor.process(record(event, "deliveries"), T0)
    processor.process(
        record(fix(seq=1, position=PICKUP, delivery_id="d1", phase="to_pickup", speed=15.0), "dt"),
        T0,
    )
    outs = processor.process(give_up_record(ReportAbort, "drone-1", "battery"), T0)
    assert [o.topic for o in outs] == ["deliveries", "dispatch", "tracking"]
    event = decode_event(outs[0].value)
    assert isinstance(event, DeliveryRescheduled) and event.reason == "battery"
    assert decode_event(outs[1].value) == event  # dispatch queues it again
    update = decode_event(outs[2].value)
    assert isinstance(update, TrackingUpdated)
    assert (update.status, update.eta, update.drone_id) == ("rescheduled", None, None)
    assert (update.lat, update.lon) == (PICKUP.lat, PICKUP.lon)  # where the drone last was
    late_fix = fix(seq=2, at=T0 + timedelta(seconds=2), delivery_id="d1", phase="to_pickup")
    assert processor.process(record(late_fix, "dt"), T0) == [], "the old drone's fixes stop"
    # A second drone takes it; its first fix shows the customer it is on its way again.
    proposal = AssignDrone(command_id="c9", delivery_id="d1", issued_at=T0, drone_id="drone-2")
    processor.process(command_record(proposal), T0)
    again = fix("drone-2", 1, T0 + timedelta(seconds=3), DEPOT, delivery_id="d1", phase="to_pickup")
    (out,) = processor.process(record(again, "dt"), T0)
    resumed = decode_event(out.value)
    assert isinstance(resumed, TrackingUpdated)
    assert (resumed.status, resumed.drone_id) == ("en_route_to_pickup", "drone-2")
    assert resumed.eta is not None


def test_an_abort_after_pickup_fails_the_delivery_for_its_customer() -> None:
    processor = new_processor()
    for event in (requested(), assigned(), picked_up()):
        processor.process(record(event, "deliveries"), T0)
    outs = processor.process(give_up_record(ReportAbort, "drone-1", "no_fly_zone"), T0)
    assert [o.topic for o in outs] == ["deliveries", "tracking"]
    failed = decode_event(outs[0].value)
    assert isinstance(failed, DeliveryFailed) and failed.reason == "no_fly_zone"
    final = decode_event(outs[1].value)
    assert isinstance(final, TrackingUpdated) and final.status == "failed" and final.eta is None
    assert processor.state("d1").is_final  # type: ignore[union-attr]


def test_a_refusal_reschedules_and_a_second_one_is_ignored() -> None:
    processor = new_processor()
    for event in (requested(), assigned()):
        processor.process(record(event, "deliveries"), T0)
    first = processor.process(give_up_record(RefuseAssignment, "drone-1", "busy"), T0)
    assert isinstance(decode_event(first[0].value), DeliveryRescheduled)
    assert processor.process(give_up_record(RefuseAssignment, "drone-1", "busy"), T0) == []


def test_a_cancel_after_the_pickup_report_is_dead_lettered_as_too_late() -> None:
    processor = new_processor()
    for event in (requested(), assigned()):
        processor.process(record(event, "deliveries"), T0)
    pickup = ReportPickup(
        command_id="c3", delivery_id="d1", issued_at=T0, drone_id="drone-1", observed_at=T0
    )
    processor.process(command_record(pickup), T0)
    cancel = CancelDelivery(command_id="c2", delivery_id="d1", issued_at=T0, requested_by="b1")
    (out,) = processor.process(command_record(cancel), T0)
    letter = decode_dead_letter(out.value)
    assert letter.reason == "command_refused" and "picked_up" in letter.detail


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


def milestone(drone_id: str, kind: str, at: datetime, battery: float = 90.0) -> DroneMilestone:
    return DroneMilestone(
        event_id=f"m-{drone_id}-{kind}",
        sequence=1,
        occurred_at=at,
        recorded_at=at,
        drone_id=drone_id,
        kind=kind,  # type: ignore[arg-type]
        lat=PICKUP.lat,
        lon=PICKUP.lon,
        battery_pct=battery,
    )


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


def test_the_gate_passes_milestones_to_dispatch_at_once() -> None:
    gate = TelemetryGate()
    gate.process(record(fix(seq=1)), T0)
    (out,) = gate.process(record(milestone("drone-1", "returned", T0)), T0)
    assert (out.topic, out.key) == ("dispatch", FLEET_KEY)
    assert gate.counts["milestone"] == 1
