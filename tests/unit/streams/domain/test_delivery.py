"""The delivery aggregate: legal transitions, refusals, idempotent fold, and a model check."""

from __future__ import annotations

from datetime import timedelta
from typing import ClassVar

import msgspec
import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from contracts import (
    AnyCommand,
    AssignDrone,
    CancelDelivery,
    DeliveryCancelled,
    DeliveryEvent,
    DeliveryFailed,
    DeliveryRescheduled,
    DroneAssigned,
    ExpireRequest,
    PickedUp,
    RefuseAssignment,
    ReportAbort,
    ReportDropoff,
    ReportPickup,
    WithdrawAssignment,
)
from streams.domain.delivery import DeliveryState, decide, evolve, fold
from streams.errors import IllegalTransitionError, NotTheAssignedDroneError, TooLateToCancelError
from tests.support.factories import T0, assigned, delivered, picked_up, requested


def test_happy_path_folds_to_delivered() -> None:
    state = fold([requested(), assigned(), picked_up(), delivered()])
    assert state is not None
    assert state.status == "delivered"
    assert state.drone_id == "drone-1"
    assert state.version == 4
    assert state.delivered_at == delivered().occurred_at


def test_fold_orders_by_sequence() -> None:
    events: list[DeliveryEvent] = [delivered(), requested(), picked_up(), assigned()]
    state = fold(events)
    assert state is not None and state.status == "delivered"


def test_replayed_event_changes_nothing() -> None:
    state = fold([requested(), assigned()])
    assert state is not None
    again = evolve(state, assigned())
    assert again is state


@pytest.mark.parametrize(
    "events",
    [
        [assigned()],  # no request first
        [requested(), picked_up(seq=2)],  # pickup before assignment
        [requested(), assigned(), delivered(seq=3)],  # delivered before pickup
    ],
)
def test_illegal_transitions_are_refused(events: list[DeliveryEvent]) -> None:
    with pytest.raises(IllegalTransitionError):
        fold(events)


def test_a_second_request_for_the_same_delivery_is_refused() -> None:
    state = fold([requested()])
    with pytest.raises(IllegalTransitionError):
        evolve(state, msgspec.structs.replace(requested(), sequence=2))


def assign(drone_id: str) -> AssignDrone:
    return AssignDrone(command_id="c1", delivery_id="d1", issued_at=T0, drone_id=drone_id)


def cancel() -> CancelDelivery:
    return CancelDelivery(command_id="c2", delivery_id="d1", issued_at=T0, requested_by="b1")


def test_decide_assigns_only_a_requested_delivery() -> None:
    state = fold([requested()])
    assert state is not None
    (event,) = decide(state, assign("drone-7"), T0 + timedelta(seconds=1))
    assert isinstance(event, DroneAssigned) and event.sequence == 2
    assigned_state = evolve(state, event)
    assert assigned_state.status == "assigned"
    assert decide(assigned_state, assign("drone-7"), T0) == []  # the same proposal again
    with pytest.raises(IllegalTransitionError):
        decide(assigned_state, assign("drone-8"), T0)
    with pytest.raises(IllegalTransitionError):
        decide(None, assign("drone-8"), T0)


@pytest.mark.parametrize("history", [[requested()], [requested(), assigned()]])
def test_cancel_before_pickup(history: list[DeliveryEvent]) -> None:
    state = fold(history)
    (event,) = decide(state, cancel(), T0)
    assert isinstance(event, DeliveryCancelled)
    assert event.drone_id == (state.drone_id if state else None)
    cancelled = evolve(state, event)
    assert cancelled.status == "cancelled" and cancelled.is_final
    assert decide(cancelled, cancel(), T0) == []  # cancelling twice changes nothing
    with pytest.raises(IllegalTransitionError):
        decide(cancelled, assign("drone-1"), T0)


def test_no_cancel_after_pickup() -> None:
    state = fold([requested(), assigned(), picked_up()])
    with pytest.raises(TooLateToCancelError):
        decide(state, cancel(), T0)


def test_the_cancel_race_a_cancel_after_the_pickup_report_is_refused() -> None:
    """The customer cancels while the drone lands at the pickup: the report is decided
    first (it was first on the partition), so the cancel finds the parcel on board."""
    state = fold([requested(), assigned()])
    assert state is not None
    (pickup,) = decide(state, report(ReportPickup, "drone-1"), T0)
    state = evolve(state, pickup)
    with pytest.raises(TooLateToCancelError) as refused:
        decide(state, cancel(), T0)
    assert refused.value.status == "picked_up" and refused.value.attempted == "CancelDelivery"


def report(kind: type, drone_id: str, **extra: str) -> AnyCommand:
    command: AnyCommand = kind(
        command_id="c6",
        delivery_id="d1",
        issued_at=T0,
        drone_id=drone_id,
        observed_at=T0 + timedelta(minutes=1),
        **extra,
    )
    return command


def test_an_abort_before_pickup_reschedules_and_another_drone_may_take_it() -> None:
    state = fold([requested(), assigned()])
    assert state is not None
    (event,) = decide(state, report(ReportAbort, "drone-1", reason="battery"), T0)
    assert isinstance(event, DeliveryRescheduled)
    assert (event.drone_id, event.reason, event.declined_by) == ("drone-1", "battery", ("drone-1",))
    assert (event.pickup, event.dropoff, event.requested_at) == (
        state.pickup,
        state.dropoff,
        state.requested_at,
    )
    rescheduled = evolve(state, event)
    assert rescheduled.status == "rescheduled" and rescheduled.drone_id is None
    assert not rescheduled.is_final
    # The same report again, or the drone refusing now, is a redelivery: nothing new.
    assert decide(rescheduled, report(ReportAbort, "drone-1", reason="battery"), T0) == []
    assert decide(rescheduled, report(RefuseAssignment, "drone-1", reason="busy"), T0) == []
    with pytest.raises(IllegalTransitionError):
        decide(rescheduled, assign("drone-1"), T0)  # it gave this one up
    (again,) = decide(rescheduled, assign("drone-2"), T0)
    reassigned = evolve(rescheduled, again)
    assert (reassigned.status, reassigned.drone_id) == ("assigned", "drone-2")
    assert reassigned.declined_by == ("drone-1",)


def test_a_refusal_reschedules() -> None:
    state = fold([requested(), assigned()])
    assert state is not None
    (event,) = decide(state, report(RefuseAssignment, "drone-1", reason="unreachable"), T0)
    assert isinstance(event, DeliveryRescheduled) and event.reason == "unreachable"
    assert evolve(state, event).status == "rescheduled"


def test_an_abort_after_pickup_fails_with_the_reason() -> None:
    state = fold([requested(), assigned(), picked_up()])
    assert state is not None
    (event,) = decide(state, report(ReportAbort, "drone-1", reason="no_fly_zone"), T0)
    assert isinstance(event, DeliveryFailed) and event.reason == "no_fly_zone"
    failed = evolve(state, event)
    assert failed.status == "failed" and failed.is_final
    assert failed.failure_reason == "no_fly_zone" and failed.drone_id == "drone-1"
    assert decide(failed, report(ReportAbort, "drone-1", reason="no_fly_zone"), T0) == []
    for late in (report(ReportDropoff, "drone-1"), cancel(), assign("drone-2")):
        with pytest.raises(IllegalTransitionError):
            decide(failed, late, T0)


def test_a_refusal_after_pickup_or_from_another_drone_is_refused() -> None:
    state = fold([requested(), assigned(), picked_up()])
    with pytest.raises(IllegalTransitionError):
        decide(state, report(RefuseAssignment, "drone-1", reason="busy"), T0)
    with pytest.raises(NotTheAssignedDroneError):
        decide(state, report(ReportAbort, "drone-9", reason="fault"), T0)
    with pytest.raises(NotTheAssignedDroneError):
        decide(fold([requested()]), report(ReportAbort, "drone-1", reason="fault"), T0)


def test_an_abort_racing_a_cancel_changes_nothing() -> None:
    state = fold([requested(), assigned()])
    (cancelled,) = decide(state, cancel(), T0)
    after = evolve(state, cancelled)
    assert decide(after, report(ReportAbort, "drone-1", reason="battery"), T0) == []


def test_a_rescheduled_delivery_can_be_cancelled() -> None:
    state = fold([requested(), assigned()])
    (event,) = decide(state, report(RefuseAssignment, "drone-1", reason="busy"), T0)
    (cancelled,) = decide(evolve(state, event), cancel(), T0)
    assert isinstance(cancelled, DeliveryCancelled) and cancelled.drone_id is None


@pytest.mark.parametrize(
    "kind",
    [DeliveryRescheduled, DeliveryFailed],
)
def test_give_up_events_are_refused_out_of_place(kind: type) -> None:
    fields = {"drone_id": "drone-1", "reason": "battery"}
    if kind is DeliveryRescheduled:
        fields |= {"declined_by": ("drone-1",), "requested_at": T0}
        fields |= {"pickup": requested().pickup, "dropoff": requested().dropoff}
    event = kind(
        event_id="e", sequence=2, occurred_at=T0, recorded_at=T0, delivery_id="d1", **fields
    )
    with pytest.raises(IllegalTransitionError):
        evolve(fold([requested()]), event)  # nobody had it to give up


def test_drone_reports_become_milestones_once() -> None:
    state = fold([requested(), assigned()])
    assert state is not None
    pickup = ReportPickup(
        command_id="c3",
        delivery_id="d1",
        issued_at=T0,
        drone_id="drone-1",
        observed_at=T0 + timedelta(minutes=1),
    )
    (event,) = decide(state, pickup, T0)
    assert isinstance(event, PickedUp) and event.occurred_at == pickup.observed_at
    state = evolve(state, event)
    assert decide(state, pickup, T0) == []  # redelivered report
    dropoff = ReportDropoff(
        command_id="c4",
        delivery_id="d1",
        issued_at=T0,
        drone_id="drone-1",
        observed_at=T0 + timedelta(minutes=3),
    )
    (done,) = decide(state, dropoff, T0)
    assert evolve(state, done).status == "delivered"


def test_a_report_from_another_drone_is_refused() -> None:
    state = fold([requested(), assigned()])
    intruder = ReportPickup(
        command_id="c5", delivery_id="d1", issued_at=T0, drone_id="drone-9", observed_at=T0
    )
    with pytest.raises(IllegalTransitionError):
        decide(state, intruder, T0)


class DeliveryMachine(RuleBasedStateMachine):
    """Random event sequences against a simple model: the events allowed in each state."""

    NEXT: ClassVar[dict[str | None, dict[str, str]]] = {
        None: {"DeliveryRequested": "requested"},
        "requested": {
            "DroneAssigned": "assigned",
            "DeliveryCancelled": "cancelled",
            "DeliveryFailed": "failed",  # no drone within the promise
        },
        "assigned": {
            "PickedUp": "picked_up",
            "DeliveryRescheduled": "rescheduled",
            "DeliveryCancelled": "cancelled",
        },
        "rescheduled": {
            "DroneAssigned": "assigned",
            "DeliveryCancelled": "cancelled",
            "DeliveryFailed": "failed",
        },
        "picked_up": {"Delivered": "delivered", "DeliveryFailed": "failed"},
        "delivered": {},
        "cancelled": {},
        "failed": {},
    }
    KINDS: ClassVar[list[str]] = sorted({k for step in NEXT.values() for k in step})

    def __init__(self) -> None:
        super().__init__()
        self.state: DeliveryState | None = None
        self.model_status: str | None = None
        self.sequence = 0

    def _event(self, kind: str) -> DeliveryEvent:
        seq = self.sequence + 1
        envelope = {"event_id": f"e{seq}", "sequence": seq, "occurred_at": T0, "recorded_at": T0}
        builders = {
            "DeliveryRequested": lambda: msgspec.structs.replace(requested(), sequence=seq),
            "DroneAssigned": lambda: assigned(seq=seq),
            "PickedUp": lambda: picked_up(seq=seq),
            "Delivered": lambda: delivered(seq=seq),
            "DeliveryCancelled": lambda: DeliveryCancelled(
                **envelope, delivery_id="d1", requested_by="b1", reason=""
            ),
            "DeliveryRescheduled": lambda: DeliveryRescheduled(
                **envelope,
                delivery_id="d1",
                drone_id="drone-1",
                reason="busy",
                pickup=requested().pickup,
                dropoff=requested().dropoff,
                requested_at=T0,
                declined_by=("drone-1",),
            ),
            "DeliveryFailed": lambda: (
                DeliveryFailed(
                    **envelope, delivery_id="d1", drone_id=None, reason="no_drone_available"
                )
                if self.model_status in ("requested", "rescheduled")
                else DeliveryFailed(
                    **envelope, delivery_id="d1", drone_id="drone-1", reason="battery"
                )
            ),
        }
        return builders[kind]()  # type: ignore[no-any-return]

    @rule(kind=st.sampled_from(KINDS))
    def apply(self, kind: str) -> None:
        event = self._event(kind)
        after = self.NEXT[self.model_status].get(kind)
        if after is not None:
            self.state = evolve(self.state, event)
            self.sequence = event.sequence
            self.model_status = after
        else:
            with pytest.raises(IllegalTransitionError):
                evolve(self.state, event)

    @rule()
    def replay_last(self) -> None:
        if self.state is not None:
            before = self.state
            assert evolve(self.state, assigned(seq=self.sequence)) is before

    @invariant()
    def state_matches_model(self) -> None:
        assert (self.state.status if self.state else None) == self.model_status
        if self.state is not None:
            assert self.state.version == self.sequence
            assert self.state.is_final == (
                self.model_status in ("delivered", "cancelled", "failed")
            )


TestDeliveryMachine = DeliveryMachine.TestCase

DRONES = ("drone-1", "drone-2", "drone-3")


class CommandMachine(RuleBasedStateMachine):
    """Random commands from random drones through decide + evolve, against a model.

    The model is the transition table written out by hand: what each command does in
    each state, whether it is a no-op (a redelivery) or refused, and with which error.
    """

    def __init__(self) -> None:
        super().__init__()
        state = fold([requested()])
        assert state is not None
        self.state: DeliveryState = state
        self.status = "requested"
        self.drone: str | None = None
        self.declined: list[str] = []

    def _run(self, command: AnyCommand, outcome: str | type[Exception] | None) -> None:
        """`outcome`: the new status, None for no event, or the error expected."""
        if isinstance(outcome, type):
            with pytest.raises(outcome):
                decide(self.state, command, T0)
            return
        events = decide(self.state, command, T0)
        if outcome is None:
            assert events == []
            return
        (event,) = events
        assert event.sequence == self.state.version + 1
        self.state = evolve(self.state, event)
        self.status = outcome

    @rule(drone=st.sampled_from(DRONES))
    def assign(self, drone: str) -> None:
        if self.status in ("requested", "rescheduled"):
            if drone in self.declined:
                self._run(assign(drone), IllegalTransitionError)
            else:
                self._run(assign(drone), "assigned")
                self.drone = drone
        elif self.status in ("assigned", "picked_up") and drone == self.drone:
            self._run(assign(drone), None)
        else:
            self._run(assign(drone), IllegalTransitionError)

    @rule()
    def cancel(self) -> None:
        if self.status == "cancelled":
            self._run(cancel(), None)
        elif self.status in ("requested", "assigned", "rescheduled"):
            self._run(cancel(), "cancelled")
        elif self.status in ("picked_up", "delivered"):
            self._run(cancel(), TooLateToCancelError)
        else:
            self._run(cancel(), IllegalTransitionError)

    @rule(drone=st.sampled_from(DRONES), dropoff=st.booleans())
    def report_milestone(self, drone: str, dropoff: bool) -> None:
        command = report(ReportDropoff if dropoff else ReportPickup, drone)
        done, before = ("delivered", "picked_up") if dropoff else ("picked_up", "assigned")
        if drone != self.drone:
            self._run(command, NotTheAssignedDroneError)
        elif self.status == done or (not dropoff and self.status == "delivered"):
            self._run(command, None)
        elif self.status == before:
            self._run(command, done)
        else:
            self._run(command, IllegalTransitionError)

    @rule(drone=st.sampled_from(DRONES), refuse=st.booleans())
    def give_up(self, drone: str, refuse: bool) -> None:
        command = (
            report(RefuseAssignment, drone, reason="insufficient_battery")
            if refuse
            else report(ReportAbort, drone, reason="fault")
        )
        ended = self.status in ("cancelled", "failed") and drone == self.drone
        if drone in self.declined or ended:
            self._run(command, None)
        elif drone != self.drone:
            self._run(command, NotTheAssignedDroneError)
        elif self.status == "assigned":
            self._run(command, "rescheduled")
            self.declined.append(drone)
            self.drone = None
        elif self.status == "picked_up" and not refuse:
            self._run(command, "failed")
        else:
            self._run(command, IllegalTransitionError)

    @rule(drone=st.sampled_from(DRONES), lost=st.booleans())
    def withdraw(self, drone: str, lost: bool) -> None:
        command = withdraw(drone, "drone_lost" if lost else "not_taken_up")
        if drone != self.drone or drone in self.declined:
            self._run(command, None)  # stale: dispatch's view is behind
        elif self.status == "assigned":
            self._run(command, "rescheduled")
            self.declined.append(drone)
            self.drone = None
        elif self.status == "picked_up" and lost:
            self._run(command, "failed")
        else:
            self._run(command, None)

    @rule()
    def expire(self) -> None:
        if self.status in ("requested", "rescheduled"):
            self._run(expire(), "failed")
        else:
            self._run(expire(), None)

    @invariant()
    def state_matches_model(self) -> None:
        assert self.state.status == self.status
        assert self.state.drone_id == self.drone
        assert list(self.state.declined_by) == self.declined
        assert evolve(self.state, assigned(seq=self.state.version)) is self.state  # replay


TestCommandMachine = CommandMachine.TestCase


def withdraw(drone_id: str, reason: str = "drone_lost") -> WithdrawAssignment:
    return WithdrawAssignment(
        command_id="c7",
        delivery_id="d1",
        issued_at=T0,
        drone_id=drone_id,
        reason=reason,  # type: ignore[arg-type]
        observed_at=T0 + timedelta(minutes=2),
    )


def expire() -> ExpireRequest:
    return ExpireRequest(
        command_id="c8", delivery_id="d1", issued_at=T0, observed_at=T0 + timedelta(minutes=30)
    )


@pytest.mark.parametrize("reason", ["drone_lost", "not_taken_up"])
def test_a_withdrawn_assignment_is_rescheduled_before_the_pickup(reason: str) -> None:
    state = fold([requested(), assigned()])
    assert state is not None
    (event,) = decide(state, withdraw("drone-1", reason), T0)
    assert isinstance(event, DeliveryRescheduled)
    assert (event.reason, event.declined_by) == (reason, ("drone-1",))
    assert decide(evolve(state, event), withdraw("drone-1", reason), T0) == []  # redelivered


def test_a_lost_drone_with_the_parcel_fails_the_delivery_with_drone_lost() -> None:
    state = fold([requested(), assigned(), picked_up()])
    assert state is not None
    assert decide(state, withdraw("drone-1", "not_taken_up"), T0) == [], "it took it up"
    (event,) = decide(state, withdraw("drone-1"), T0)
    assert isinstance(event, DeliveryFailed)
    assert (event.reason, event.drone_id) == ("drone_lost", "drone-1")
    failed = evolve(state, event)
    assert (failed.status, failed.failure_reason) == ("failed", "drone_lost")
    assert decide(failed, withdraw("drone-1"), T0) == []


@pytest.mark.parametrize(
    "history",
    [
        [requested()],  # never assigned (a refused proposal)
        [requested(), assigned(), picked_up(), delivered()],  # it arrived first
    ],
)
def test_a_stale_withdrawal_changes_nothing(history: list[DeliveryEvent]) -> None:
    state = fold(history)
    assert state is not None
    assert decide(state, withdraw("drone-1"), T0) == []
    assert decide(fold([requested(), assigned()]), withdraw("drone-9"), T0) == []


@pytest.mark.parametrize("given_up", [False, True])
def test_a_delivery_no_drone_took_in_time_fails_with_no_drone_available(given_up: bool) -> None:
    state = fold([requested(), assigned()])
    assert state is not None
    if given_up:
        (again,) = decide(state, withdraw("drone-1"), T0)
        state = evolve(state, again)
    else:
        state = fold([requested()])
    assert state is not None
    (event,) = decide(state, expire(), T0)
    assert isinstance(event, DeliveryFailed)
    assert (event.reason, event.drone_id) == ("no_drone_available", None)
    assert evolve(state, event).is_final


def test_an_expiry_after_a_drone_took_the_delivery_changes_nothing() -> None:
    for history in ([requested(), assigned()], [requested(), assigned(), picked_up()]):
        assert decide(fold(history), expire(), T0) == []
