"""A round that weighs only the drones a fix just changed decides as one over the fleet.

`DispatchProcessor._assign_waiting` narrows the round after a `FleetHeard` to the drones
it made weighable (newly available, moved or charged), on the ground that every delivery
still waiting was weighed against every other available drone at the last round. These
tests hold it to that: the same records fed to a dispatcher whose rounds always weigh
the whole fleet must give the same proposals, withdrawals and tables, step by step.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from contracts import (
    DeliveryCancelled,
    DeliveryRequested,
    GeoPoint,
    LivenessTick,
    decode_command,
)
from streams.processors.dispatcher import DispatchProcessor
from streams.processors.records import Outgoing, SourceRecord
from tests.support.factories import T0, fix
from tests.support.processor_inputs import fleet_heard, record


class WeighsEveryDrone(DispatchProcessor):
    """The reference: every round over the whole fleet, as before the narrowing."""

    def _assign_waiting(self, now: datetime, only: object = None) -> list[Outgoing]:
        return super()._assign_waiting(now, None)


def new(cls: type[DispatchProcessor]) -> DispatchProcessor:
    return cls(
        fleet={},
        queue={},
        take_up_within=timedelta(seconds=20),
        silent_after=timedelta(seconds=30),
        promise=timedelta(minutes=5),
    )


DRONES = [f"drone-{n}" for n in range(6)]
DELIVERIES = [f"d{n}" for n in range(8)]
STEP = 0.004
"""The grid's step in degrees (about 400 m): every move of a drone is material."""


def point(cell: tuple[int, int]) -> GeoPoint:
    return GeoPoint(47.37 + cell[0] * STEP, 8.53 + cell[1] * STEP)


cells = st.tuples(st.integers(0, 6), st.integers(0, 6))


@dataclass(frozen=True)
class Heard:
    drone: int
    cell: tuple[int, int]
    battery: int
    flying: int | None
    """The delivery it says it flies (to the pickup), or None: idle."""


@dataclass(frozen=True)
class Requested:
    delivery: int
    pickup: tuple[int, int]
    dropoff: tuple[int, int]


@dataclass(frozen=True)
class Cancelled:
    delivery: int


@dataclass(frozen=True)
class Tick:
    seconds: int


heard = st.builds(
    Heard,
    st.integers(0, len(DRONES) - 1),
    cells,
    # Whole percents: a battery that changes at all changes materially (`CHARGED_PCT`).
    st.integers(20, 60),
    st.one_of(st.none(), st.integers(0, len(DELIVERIES) - 1)),
)
steps = st.lists(
    st.one_of(
        st.lists(heard, min_size=1, max_size=4),
        st.builds(Requested, st.integers(0, len(DELIVERIES) - 1), cells, cells),
        st.builds(Cancelled, st.integers(0, len(DELIVERIES) - 1)),
        st.builds(Tick, st.integers(1, 25)),
    ),
    min_size=1,
    max_size=40,
)


def to_record(step: object, at: datetime, n: int) -> SourceRecord:
    if isinstance(step, list):
        fixes = [
            fix(
                DRONES[h.drone],
                seq=n,
                at=at,
                position=point(h.cell),
                battery=float(h.battery),
                delivery_id=None if h.flying is None else DELIVERIES[h.flying],
                phase="idle" if h.flying is None else "to_pickup",
            )
            for h in {h.drone: h for h in step}.values()  # one fix per drone a batch
        ]
        return fleet_heard(*fixes)
    if isinstance(step, Requested):
        event: object = DeliveryRequested(
            event_id=f"r{n}",
            sequence=1,
            occurred_at=at,
            recorded_at=at,
            delivery_id=DELIVERIES[step.delivery],
            business_id="b1",
            pickup=point(step.pickup),
            dropoff=point(step.dropoff),
        )
    elif isinstance(step, Cancelled):
        event = DeliveryCancelled(
            event_id=f"c{n}",
            sequence=2,
            occurred_at=at,
            recorded_at=at,
            delivery_id=DELIVERIES[step.delivery],
            requested_by="b1",
            reason="",
        )
    else:
        assert isinstance(step, Tick)
        event = LivenessTick(
            event_id=f"t{n}", sequence=1, occurred_at=at, recorded_at=at, worker="w"
        )
    return record(event, "dispatch")  # type: ignore[arg-type]


def decided(outputs: list[Outgoing]) -> list[tuple[str, str, str | None, bytes | None]]:
    """What a step decided (topic, command, drone, key), without the commands' random ids."""
    found: list[tuple[str, str, str | None, bytes | None]] = []
    for out in outputs:
        if out.topic == "delivery_commands":
            command = decode_command(out.value)
            found.append(
                (out.topic, type(command).__name__, getattr(command, "drone_id", None), out.key)
            )
        else:
            found.append((out.topic, "", None, out.key))
    return found


@settings(max_examples=300, deadline=None)
@given(steps)
def test_a_narrowed_round_decides_as_a_round_over_the_whole_fleet(script: list[object]) -> None:
    narrowed, reference = new(DispatchProcessor), new(WeighsEveryDrone)
    at = T0
    for n, step in enumerate(script, start=1):
        at += timedelta(seconds=step.seconds if isinstance(step, Tick) else 1)
        source = to_record(step, at, n)
        got, expected = narrowed.process(source, at), reference.process(source, at)
        assert decided(got) == decided(expected), f"step {n}: {step}"
    assert narrowed.fleet == reference.fleet
    assert narrowed.queue == reference.queue


def test_a_drone_that_charged_while_idle_is_weighed_again() -> None:
    """Heard again with a fuller battery, an idle drone may now fit a waiting mission."""
    dispatcher = new(DispatchProcessor)
    at = T0 + timedelta(seconds=1)
    dispatcher.process(
        record(
            LivenessTick(event_id="t", sequence=1, occurred_at=at, recorded_at=at, worker="w"),
            "dispatch",
        ),
        at,
    )
    dispatcher.process(
        fleet_heard(fix("x", seq=1, at=at, position=point((0, 0)), battery=21.0)), at
    )
    far = Requested(0, (6, 6), (0, 6))
    assert dispatcher.process(to_record(far, at, 2), at) == [], "too little battery to fly it"
    at += timedelta(seconds=1)
    charged = fleet_heard(fix("x", seq=3, at=at, position=point((0, 0)), battery=60.0))
    proposals = [decode_command(out.value) for out in dispatcher.process(charged, at)]
    assert [getattr(p, "drone_id", None) for p in proposals] == ["x"]
