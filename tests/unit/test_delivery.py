"""The delivery aggregate: legal transitions, refusals, idempotent fold, and a model check."""

from __future__ import annotations

from datetime import timedelta
from typing import ClassVar

import msgspec
import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from contracts import DeliveryEvent
from streams.delivery import AssignDrone, DeliveryState, decide, evolve, fold
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


def test_decide_assigns_only_a_requested_delivery() -> None:
    state = fold([requested()])
    assert state is not None
    (event,) = decide(state, AssignDrone(drone_id="drone-7", at=T0 + timedelta(seconds=1)))
    assert event.sequence == 2
    assert evolve(state, event).status == "assigned"
    with pytest.raises(IllegalTransitionError):
        decide(evolve(state, event), AssignDrone(drone_id="drone-8", at=T0))
    with pytest.raises(IllegalTransitionError):
        decide(None, AssignDrone(drone_id="drone-8", at=T0))


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
