"""The deliveries processor without Kafka: the aggregate, tracking and refusals, with dicts."""

from __future__ import annotations

from datetime import timedelta

from contracts import (
    AssignDrone,
    CancelDelivery,
    DeliveryCancelled,
    DeliveryFailed,
    DeliveryRescheduled,
    DroneAssigned,
    RefuseAssignment,
    ReportAbort,
    ReportPickup,
    TrackingUpdated,
    decode_dead_letter,
    decode_event,
    encode_command,
)
from streams.processors.delivery_processor import DeliveryProcessor
from streams.processors.delivery_repository import DeliveryRepository
from streams.processors.records import SourceRecord
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
    tracking,
)
from tests.support.processor_inputs import command_record, record


def new_processor() -> DeliveryProcessor:
    return DeliveryProcessor.over_tables(
        DeliveryRepository(states={}, tracking={}, parked={}),
        commands_topic="delivery-commands",
        min_interval=timedelta(seconds=1),
    )


def test_processor_folds_events_and_forwards_new_requests_to_dispatch() -> None:
    processor = new_processor()
    (forwarded,) = processor.process(record(requested(), "deliveries"), T0)
    assert forwarded.topic == "dispatch"
    assert processor.process(record(requested(), "deliveries"), T0) == []  # a replay: nothing new
    processor.process(record(assigned(), "deliveries"), T0)
    state = processor.repository.state("d1")
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
    assert etas[0] == T0 + timedelta(seconds=3 + processor.tracking.eta_model.dropoff_dwell_s)


def test_an_accepted_command_is_applied_at_once_and_appended() -> None:
    processor = new_processor()
    processor.process(record(requested(), "deliveries"), T0)
    proposal = AssignDrone(command_id="c1", delivery_id="d1", issued_at=T0, drone_id="drone-1")
    (appended,) = processor.process(command_record(proposal), T0)
    assert appended.topic == "deliveries"
    event = decode_event(appended.value)
    assert isinstance(event, DroneAssigned) and event.sequence == 2
    assert processor.repository.state("d1").status == "assigned"  # type: ignore[union-attr]
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


def test_a_command_read_before_its_request_waits_for_it() -> None:
    processor = new_processor()
    cancel = CancelDelivery(command_id="c9", delivery_id="d1", issued_at=T0, requested_by="b1")
    assert processor.process(command_record(cancel), T0) == []  # no such delivery yet: parked
    outs = processor.process(record(requested(), "deliveries"), T0)
    assert [o.topic for o in outs] == ["dispatch", "deliveries", "dispatch", "tracking"]
    assert processor.repository.state("d1").status == "cancelled"  # type: ignore[union-attr]
    assert processor.repository.parked == {}


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
    assert processor.repository.state("d1").is_final  # type: ignore[union-attr]


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


def test_a_command_for_a_delivery_with_too_many_waiting_is_dead_lettered() -> None:
    processor = new_processor()
    for n in range(16):
        cancel = CancelDelivery(
            command_id=f"c{n}", delivery_id="d1", issued_at=T0, requested_by="b1"
        )
        assert processor.process(command_record(cancel), T0) == []  # parked
    one_more = CancelDelivery(command_id="c16", delivery_id="d1", issued_at=T0, requested_by="b1")
    (out,) = processor.process(command_record(one_more), T0)
    letter = decode_dead_letter(out.value)
    assert (letter.reason, letter.detail) == ("too_many_parked", "d1")
    assert len(processor.repository.parked_commands("d1")) == 16


def test_a_refused_parked_command_is_dead_lettered_alone_and_the_request_goes_on() -> None:
    processor = new_processor()
    stranger = ReportPickup(
        command_id="c1", delivery_id="d1", issued_at=T0, drone_id="drone-9", observed_at=T0
    )
    proposal = AssignDrone(command_id="c2", delivery_id="d1", issued_at=T0, drone_id="drone-1")
    processor.process(command_record(stranger), T0)
    processor.process(command_record(proposal), T0)
    outs = processor.process(record(requested(), "deliveries"), T0)
    assert [o.topic for o in outs] == ["dispatch", "deadletter", "deliveries"]
    letter = decode_dead_letter(outs[1].value)
    assert (letter.reason, letter.source_topic, letter.source_partition) == (
        "command_refused",
        "delivery-commands",
        -1,
    ), "the parked command itself, consumed earlier"
    assert "drone-9" in letter.detail
    assert processor.repository.state("d1").status == "assigned"  # type: ignore[union-attr]


def test_garbage_and_foreign_events_are_dead_lettered_with_their_reason() -> None:
    processor = new_processor()
    (garbage,) = processor.process(record(b"\x00 not json", "deliveries"), T0)
    (bad_command,) = processor.process(SourceRecord("delivery-commands", 0, 0, b"d1", b"{}"), T0)
    (foreign,) = processor.process(record(tracking(), "deliveries"), T0)
    reasons = [decode_dead_letter(o.value).reason for o in (garbage, bad_command, foreign)]
    assert reasons == ["undecodable", "invalid_command", "unexpected_type"]
    assert decode_dead_letter(foreign.value).detail == "TrackingUpdated"
