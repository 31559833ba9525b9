"""Every waiting state has an exit: dispatch and the aggregate against a misbehaving fleet.

The real `DispatchProcessor` and `DeliveryProcessor` (their tables dicts), wired the way
the worker wires them (dispatch's commands to the aggregate, the aggregate's requests,
reschedules and cancellations to dispatch), one delivery, and two drones driven by
hypothesis through every failure the simulator produces: a drone refuses, aborts (battery,
no-fly zone, fault), goes silent and comes back, the customer cancels, the whole
simulator restarts (its drones forget their missions), and time passes in ticks.

After every step the delivery is final (and its customer was told so), or visibly
waiting: requested or rescheduled and in dispatch's queue, or assigned or picked up by a
drone dispatch holds it with (reserved or on that mission, not lost), so that the rules
on time can still move it on. At the end of every run all drones fall silent and only
time passes: the delivery must reach a final state.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import timedelta

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from contracts import (
    AnyCommand,
    CancelDelivery,
    DeliveryCancelled,
    DroneAssigned,
    DronePhase,
    LivenessTick,
    RefuseAssignment,
    ReportAbort,
    ReportDropoff,
    ReportPickup,
    TrackingUpdated,
    decode_event,
    encode_command,
    encode_event,
)
from streams.processors.delivery_processor import DeliveryProcessor
from streams.processors.delivery_repository import DeliveryRepository
from streams.processors.dispatcher import DispatchProcessor
from streams.processors.records import Outgoing, SourceRecord
from streams.processors.telemetry_gate import FLEET_KEY
from tests.support.factories import PICKUP, T0, fix, requested

COMMANDS = "delivery-commands"
PROMISE = timedelta(minutes=10)
SILENT = timedelta(seconds=15)
TAKE_UP = timedelta(seconds=30)
DRONES = ("x", "y")


@dataclass
class Drone:
    """A simulated drone as the simulator's engine keeps it."""

    drone_id: str
    seq: int = 0
    offered: str | None = None
    """An assignment it received and has neither taken up nor refused."""
    mission: str | None = None
    picked: bool = False
    silent: bool = False


class NoDeliveryLeftBehind(RuleBasedStateMachine):
    @initialize()
    def start(self) -> None:
        self.now = T0
        self.dispatcher = DispatchProcessor(
            fleet={}, queue={}, take_up_within=TAKE_UP, silent_after=SILENT, promise=PROMISE
        )
        self.repository = DeliveryRepository({}, {}, {})
        self.aggregate = DeliveryProcessor.over_tables(self.repository, commands_topic=COMMANDS)
        self.drones = {drone_id: Drone(drone_id) for drone_id in DRONES}
        self.told: str | None = None
        self.tick(0)
        for drone in self.drones.values():
            self.report(drone)
        request = encode_event(requested("d1", self.now))
        self.run(self.aggregate.process(SourceRecord("deliveries", 0, 0, b"d1", request), self.now))

    # The wiring: what the worker's topics carry between the two processors.

    def run(self, outputs: list[Outgoing]) -> None:
        pending = deque(outputs)
        while pending:
            out = pending.popleft()
            if out.topic == "dispatch":
                source = SourceRecord("dispatch", 0, 0, out.key, out.value)
                pending.extend(self.dispatcher.process(source, self.now))
            elif out.topic == "delivery_commands":
                source = SourceRecord(COMMANDS, 0, 0, out.key, out.value)
                pending.extend(self.aggregate.process(source, self.now))
            elif out.topic == "deliveries":
                self.simulator_reads(decode_event(out.value))
            elif out.topic == "tracking":
                update = decode_event(out.value)
                assert isinstance(update, TrackingUpdated)
                self.told = update.status

    def simulator_reads(self, event: object) -> None:
        if isinstance(event, DroneAssigned):
            self.drones[event.drone_id].offered = event.delivery_id
        elif isinstance(event, DeliveryCancelled):
            for drone in self.drones.values():
                if drone.offered == event.delivery_id:
                    drone.offered = None
                if drone.mission == event.delivery_id and not drone.picked:
                    self.home(drone)  # it turns back

    def command(self, command: AnyCommand) -> None:
        self.run([Outgoing("delivery_commands", b"d1", encode_command(command))])

    def report(self, drone: Drone, phase: DronePhase | None = None) -> None:
        """A fix of the drone, as the gate passes it to dispatch."""
        self.now += timedelta(seconds=1)
        drone.seq += 1
        if phase is None:
            phase = ("to_dropoff" if drone.picked else "to_pickup") if drone.mission else "idle"
        sent = fix(
            drone.drone_id,
            drone.seq,
            self.now,
            PICKUP,
            delivery_id=drone.mission,
            phase=phase,
            speed=0.0 if phase == "idle" else 10.0,
        )
        self.run([Outgoing("dispatch", FLEET_KEY, encode_event(sent))])

    def home(self, drone: Drone) -> None:
        """The mission is over for the drone: it flies home, then lands."""
        drone.mission, drone.picked = None, False
        if not drone.silent:
            self.report(drone, "returning")
            self.report(drone, "idle")

    def report_of(self, kind: type, drone: Drone, **extra: str) -> AnyCommand:
        command: AnyCommand = kind(
            command_id=f"c-{drone.drone_id}-{drone.seq}",
            delivery_id="d1",
            issued_at=self.now,
            drone_id=drone.drone_id,
            observed_at=self.now,
            **extra,
        )
        return command

    # The failures (and the successes) the simulator can produce.

    @rule(drone_id=st.sampled_from(DRONES))
    def take_up(self, drone_id: str) -> None:
        drone = self.drones[drone_id]
        if drone.offered and not drone.silent and drone.mission is None:
            drone.mission, drone.offered = drone.offered, None
            self.report(drone)

    @rule(
        drone_id=st.sampled_from(DRONES),
        reason=st.sampled_from(["busy", "unreachable", "insufficient_battery"]),
    )
    def refuse(self, drone_id: str, reason: str) -> None:
        drone = self.drones[drone_id]
        if drone.offered and not drone.silent:
            drone.offered = None
            self.command(self.report_of(RefuseAssignment, drone, reason=reason))

    @rule(drone_id=st.sampled_from(DRONES))
    def pick_up(self, drone_id: str) -> None:
        drone = self.drones[drone_id]
        if drone.mission and not drone.picked and not drone.silent:
            drone.picked = True
            self.command(self.report_of(ReportPickup, drone))
            self.report(drone)

    @rule(drone_id=st.sampled_from(DRONES))
    def drop_off(self, drone_id: str) -> None:
        drone = self.drones[drone_id]
        if drone.mission and drone.picked and not drone.silent:
            self.command(self.report_of(ReportDropoff, drone))
            self.home(drone)

    @rule(
        drone_id=st.sampled_from(DRONES),
        reason=st.sampled_from(["battery", "no_fly_zone", "fault"]),
    )
    def abort(self, drone_id: str, reason: str) -> None:
        drone = self.drones[drone_id]
        if drone.mission and not drone.silent:
            self.command(self.report_of(ReportAbort, drone, reason=reason))
            self.home(drone)

    @rule(drone_id=st.sampled_from(DRONES))
    def report_again(self, drone_id: str) -> None:
        if not self.drones[drone_id].silent:
            self.report(self.drones[drone_id])

    @rule(drone_id=st.sampled_from(DRONES))
    def go_silent(self, drone_id: str) -> None:
        self.drones[drone_id].silent = True

    @rule(drone_id=st.sampled_from(DRONES))
    def come_back(self, drone_id: str) -> None:
        drone = self.drones[drone_id]
        drone.silent = False
        self.report(drone)

    @rule()
    def cancel(self) -> None:
        self.command(
            CancelDelivery(
                command_id="cancel", delivery_id="d1", issued_at=self.now, requested_by="b"
            )
        )

    @rule()
    def restart_simulator(self) -> None:
        """A new simulator: the same drones, idle at their depots, every mission forgotten."""
        for drone_id in DRONES:
            self.drones[drone_id] = Drone(drone_id, seq=0)
        for drone in self.drones.values():
            self.report(drone)

    @rule(seconds=st.sampled_from([1, 5, 16, 31, 120, 601]))
    def tick(self, seconds: int) -> None:
        self.now += timedelta(seconds=seconds)
        tick = LivenessTick(
            event_id="t", sequence=1, occurred_at=self.now, recorded_at=self.now, worker="w"
        )
        self.run([Outgoing("dispatch", FLEET_KEY, encode_event(tick))])

    @invariant()
    def final_or_visibly_waiting(self) -> None:
        state = self.repository.state("d1")
        assert state is not None
        if state.is_final:
            assert self.told == state.status, "the customer is told how it ended"
        elif state.status in ("requested", "rescheduled"):
            waiting = [w.delivery_id for w in self.dispatcher.waiting()]
            assert waiting == ["d1"], "waiting where dispatch sees it (and its promise runs)"
        else:
            held = {
                entry.drone_id: entry
                for entry in (self.dispatcher._entries().values())
                if not entry.lost and "d1" in (entry.reserved_for, entry.mission)
            }
            assert state.drone_id in held, f"{state.status} with a drone dispatch holds"

    def teardown(self) -> None:
        """Every drone falls silent; time alone must end the delivery."""
        if not hasattr(self, "drones"):
            return
        for drone in self.drones.values():
            drone.silent = True
        for _ in range(3 * int(PROMISE / timedelta(minutes=1))):
            self.tick(60)
        state = self.repository.state("d1")
        assert state is not None and state.is_final, state


NoDeliveryLeftBehind.TestCase.settings = settings(max_examples=200, stateful_step_count=40)
TestNoDeliveryLeftBehind = NoDeliveryLeftBehind.TestCase
