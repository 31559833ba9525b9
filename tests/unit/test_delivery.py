"""The delivery aggregate: legal transitions, refusals, idempotent fold, and a model check."""

from __future__ import annotations

from datetime import timedelta
from typing import ClassVar

import msgspec
import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from contracts import (
    AssignDrone,
    CancelDelivery,
    DeliveryCancelled,
    DeliveryEvent,
    DroneAssigned,
    PickedUp,
    ReportDropoff,
    ReportPickup,
)
from streams.delivery import DeliveryState, decide, evolve, fold
from streams.errors import IllegalTransitionError
from tests.factories import T0, assigned, delivered, picked_up, requested


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
    with pytest.raises(IllegalTransitionError):
        decide(state, cancel(), T0)


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
    """Random event sequences against a simple model: a list of allowed next steps."""

    NEXT: ClassVar[dict[str | None, str | None]] = {
        None: "DeliveryRequested",
        "requested": "DroneAssigned",
        "assigned": "PickedUp",
        "picked_up": "Delivered",
        "delivered": None,
    }

    def __init__(self) -> None:
        super().__init__()
        self.state: DeliveryState | None = None
        self.model_status: str | None = None
        self.sequence = 0

    def _event(self, kind: str) -> DeliveryEvent:
        seq = self.sequence + 1
        builders = {
            "DeliveryRequested": lambda: msgspec.structs.replace(requested(), sequence=seq),
            "DroneAssigned": lambda: assigned(seq=seq),
            "PickedUp": lambda: picked_up(seq=seq),
            "Delivered": lambda: delivered(seq=seq),
        }
        return builders[kind]()  # type: ignore[no-any-return]

    @rule(kind=st.sampled_from(["DeliveryRequested", "DroneAssigned", "PickedUp", "Delivered"]))
    def apply(self, kind: str) -> None:
        event = self._event(kind)
        legal = self.NEXT[self.model_status] == kind
        if legal:
            self.state = evolve(self.state, event)
            self.sequence = event.sequence
            self.model_status = {
                "DeliveryRequested": "requested",
                "DroneAssigned": "assigned",
                "PickedUp": "picked_up",
                "Delivered": "delivered",
            }[kind]
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


TestDeliveryMachine = DeliveryMachine.TestCase
