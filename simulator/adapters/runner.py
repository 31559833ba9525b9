"""The Kafka adapter: assignments in, telemetry and reports out, on the wall clock.

The engine is stepped every 1/(telemetry_hz x telemetry_cohorts) seconds with the
current UTC time, one cohort of the fleet reporting at each step. What it reports goes
out as records (`simulator.adapters.wire`): fixes and the drones' fleet milestones to
the telemetry topic; pickups, drop-offs and aborts as reports (commands) to the
delivery aggregate. With `--chaos`, the telemetry passes through
`simulator.adapters.chaos` on its way to the producer. Drone assignments are read from
the deliveries topic (every partition, from the end: this process flies only what is
assigned while it runs) and handed to the engine; a drone of this fleet that cannot
fly one refuses it (`RefuseAssignment`), so the delivery is rescheduled instead of
waiting for it. Cancellations (`DeliveryCancelled`) turn a drone still on its way to
the pickup back home. Demand (load mode) is drawn by `simulator.world.demand` and sent
through the API (`simulator.adapters.api_client`) or straight to Kafka.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from datetime import datetime

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from contracts import (
    DecodeError,
    DeliveryCancelled,
    DroneAssigned,
    DroneMilestone,
    decode_event,
    encode_event,
    utc_now,
)
from kafkaio import BatchSender, WireRecord
from kafkaio.connection import aiokafka_options
from simulator.adapters.api_client import DemandTally, post_order
from simulator.adapters.chaos import Chaos, ChaosSpec
from simulator.adapters.wire import refusal, to_records
from simulator.flight.engine import FleetEngine, cohort
from simulator.flight.reports import DroneReport
from simulator.settings import SimulatorSettings
from simulator.world.clock import SimClock
from simulator.world.demand import PoissonDemand

log = logging.getLogger(__name__)


@dataclass
class RunStats:
    """What the run achieved, for the progress line and the summary."""

    telemetry_sent: int = 0
    """Records acknowledged on the telemetry topic: fixes and the fleet milestones."""
    milestones_sent: int = 0
    """Reports to the delivery aggregate (pickup, drop-off, abort, refusal)."""
    fleet_milestones: int = 0
    """Fleet milestones built (battery low, aborted, returned, charged)."""
    assignments: int = 0
    refusals: int = 0
    aborts: int = 0
    cancellations: int = 0
    requests_posted: int = 0
    request_errors: int = 0
    send_errors: int = 0
    ticks: int = 0
    """Telemetry intervals begun: every drone reports once per tick."""
    late_steps: int = 0
    """Cohort steps that began after their due time: the machine did not keep up."""
    producer_renewals: int = 0
    """Producers replaced after a failed batch (`kafkaio.BatchSender`): broker outages."""


class SimulatorRunner:
    """Runs an engine against Kafka until the duration ends or `stop()` is called."""

    def __init__(
        self, settings: SimulatorSettings, engine: FleetEngine, demand: PoissonDemand | None
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.demand = demand
        self.topics = settings.topics
        self.stats = RunStats()
        chaos = ChaosSpec.parse(settings.chaos)
        self.chaos = (
            Chaos(chaos, self.topics.telemetry.name, settings.seed, self._cohorts())
            if chaos.active
            else None
        )
        """Perturbs telemetry on its way to the producer (`--chaos`); None: sent as built."""
        self._sender = BatchSender(
            lambda: AIOKafkaProducer(
                **aiokafka_options(settings.kafka),
                acks="all",
                enable_idempotence=True,
                linger_ms=5,
                request_timeout_ms=int(settings.send_timeout_s * 1000),
            ),
            ack_timeout_s=settings.send_timeout_s,
        )
        self.demand_tally = DemandTally()
        """The API's answers to the orders, held against what each was drawn to be."""
        self.silenced: set[str] = set()
        """Drones whose radio is dead: they fly on, and nothing they report is sent (a
        fault for the platform's liveness rule; tests and fault scenarios set it)."""
        self.ready = asyncio.Event()
        """Set once the deliveries consumer knows its offsets: later events are seen."""
        self._stopping = asyncio.Event()
        self.clock = SimClock(utc_now(), time.monotonic())
        """Set again when the run starts: with a speed-up, a compressed past ending now."""

    def _number_on_from(self, base: int) -> None:
        """Number the drones' fixes from `base` (the start, in ms since the epoch) on.

        The platform knows a fix by (drone, sequence): the gate refuses a sequence lower
        than the last it accepted, and the read models keep one row per pair. A restarted
        simulator (the same drone ids) numbering from 1 again would be refused and
        dropped until it passed the last run's count, its drones silent to dispatch all
        that time. From the start time in milliseconds, every run begins beyond any
        earlier one, as long as a drone reports less than 1,000 times a second.
        """
        sequence = self.engine.telemetry_sequence
        sequence[sequence < base] = base - 1  # the next fix is `base`

    def now(self) -> datetime:
        """The simulated time: what every report and request the runner builds is stamped with."""
        return self.clock.now(time.monotonic())

    def stop(self) -> None:
        """Finish the current cohort step and return."""
        self._stopping.set()

    async def run(self) -> RunStats:
        """Produce until done; return the statistics."""
        # Without a group id, aiokafka assigns every partition of the subscribed topic.
        consumer = AIOKafkaConsumer(
            self.topics.deliveries.name,
            **aiokafka_options(self.settings.kafka),
            enable_auto_commit=False,
            auto_offset_reset="latest",
        )
        await self._sender.start()
        await consumer.start()
        self.clock = SimClock.starting(
            utc_now(), time.monotonic(), self.settings.speedup, self.settings.duration_s
        )
        self._number_on_from(int(time.time() * 1000))
        tasks: list[asyncio.Task[None]] = []
        try:
            await _resolve_positions(consumer)
            self.ready.set()
            tasks.append(asyncio.create_task(self._consume_deliveries(consumer)))
            if self.demand is not None:
                tasks.append(asyncio.create_task(self._create_demand(self.demand)))
            await self._fly()
            if self.chaos is not None:
                await self._produce(self.chaos.flush())
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self._sender.stop()
            await consumer.stop()
            self.stats.producer_renewals = self._sender.renewals
        return self.stats

    async def _fly(self) -> None:
        """Step the fleet one cohort at a time, each drone reporting once per interval.

        The interval is cut into as many steps as there are cohorts; every step moves
        the whole fleet and one cohort sends its fixes, so the load is even over the
        interval instead of one burst of the whole fleet (see `telemetry_cohorts`). A
        run's duration ends only at a whole interval: every drone has sent as many
        fixes as every other.
        """
        interval = 1.0 / self.settings.telemetry_hz  # simulated seconds between fixes
        cohorts = self._cohorts()
        step_s = interval / cohorts
        wall_step = self.clock.wall_seconds(step_s)
        started = time.monotonic()
        next_step = started
        steps = 0
        while not self._stopping.is_set():
            index = steps % cohorts
            if index == 0:
                elapsed = time.monotonic() - started
                if self.settings.duration_s and elapsed >= self.settings.duration_s:
                    return
                self.stats.ticks += 1
                self._silence_if_due(elapsed)
            reports = self.engine.step(self.now(), step_s, cohort(index, cohorts))
            steps += 1
            await self._send(reports)
            next_step += wall_step
            delay = next_step - time.monotonic()
            if delay < 0:
                self.stats.late_steps += 1
                next_step = time.monotonic()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=max(delay, 0))

    def _silence_if_due(self, elapsed: float) -> None:
        """From `silence_at_s` on, the first `silence_share` percent of the drones are silent."""
        at, share = self.settings.silence_at_s, self.settings.silence_share
        if at and share and elapsed >= at:
            count = round(len(self.engine.drone_ids) * share / 100)
            self.silenced.update(self.engine.drone_ids[:count])

    def _cohorts(self) -> int:
        """No more cohorts than drones: an empty cohort would only waste a step."""
        return max(1, min(self.settings.telemetry_cohorts, len(self.engine.drone_ids)))

    async def _send(self, reports: list[DroneReport]) -> None:
        if self.silenced:
            reports = [r for r in reports if r.drone_id not in self.silenced]
        milestones = [r for r in reports if isinstance(r, DroneMilestone)]
        self.stats.fleet_milestones += len(milestones)
        self.stats.aborts += sum(1 for m in milestones if m.kind == "aborted")
        records = to_records(reports, self.topics)
        if self.chaos is not None:
            records = self.chaos.apply(records)
        await self._produce(records)

    async def _produce(self, records: list[WireRecord]) -> None:
        """Send the records, wait for every acknowledgement and count them."""
        acks = await self._sender.send(records)
        self.stats.send_errors += acks.failed.total()
        self.stats.telemetry_sent += acks.acked[self.topics.telemetry.name]
        self.stats.milestones_sent += acks.acked[self.topics.delivery_commands.name]

    async def _consume_deliveries(self, consumer: AIOKafkaConsumer) -> None:
        async for record in consumer:
            if record.value is None:
                continue
            try:
                event = decode_event(record.value)
            except DecodeError:
                continue  # the stream processors dead-letter what they cannot read
            if isinstance(event, DroneAssigned):
                await self._on_assignment(event)
            elif isinstance(event, DeliveryCancelled) and self.engine.cancel(event.delivery_id):
                self.stats.cancellations += 1

    async def _on_assignment(self, assignment: DroneAssigned) -> None:
        """Fly it, or refuse it when it is one of ours that cannot."""
        refused = self.engine.try_assign(assignment)
        if refused is None:
            self.stats.assignments += 1
        elif refused in ("busy", "unreachable", "insufficient_battery"):
            self.stats.refusals += 1
            await self._produce([refusal(assignment, refused, self.now(), self.topics)])
        # unknown_drone: another simulator's; already_flying: a redelivered assignment.

    async def _create_demand(self, demand: PoissonDemand) -> None:
        if self.settings.demand_via == "kafka":
            await self._demand_to_kafka(demand)
        else:
            await self._demand_to_api(demand)

    async def _demand_to_kafka(self, demand: PoissonDemand) -> None:
        """Write each request to the deliveries topic, as the API would after its checks."""
        topic = self.topics.deliveries.name
        while (gap := demand.next_gap_s()) is not None:
            await asyncio.sleep(self.clock.wall_seconds(gap))
            request = demand.next_request(self.settings.demand_business_id, self.now())
            record = WireRecord(topic, request.delivery_id.encode(), encode_event(request))
            acks = await self._sender.send([record])
            if acks.failed.total():
                self.stats.request_errors += 1
            else:
                self.stats.requests_posted += 1

    async def _demand_to_api(self, demand: PoissonDemand) -> None:
        async with httpx.AsyncClient(base_url=self.settings.api_url, timeout=10.0) as client:
            while (gap := demand.next_gap_s()) is not None:
                await asyncio.sleep(self.clock.wall_seconds(gap))
                order = demand.next_order()
                try:
                    answer = await post_order(client, self.settings.api_key, order)
                    self.demand_tally.record(order, answer)
                    if answer.refused is None:
                        self.stats.requests_posted += 1
                except httpx.HTTPError as error:
                    self.stats.request_errors += 1
                    log.warning("delivery request failed: %s", error)


async def _resolve_positions(consumer: AIOKafkaConsumer, timeout_s: float = 30.0) -> None:
    """Wait until every partition of the deliveries topic has its "latest" position.

    aiokafka resolves `auto_offset_reset` lazily; an assignment produced between the
    start and that resolution would be skipped, and the drone would never fly it.
    """
    deadline = time.monotonic() + timeout_s
    while not consumer.assignment():
        if time.monotonic() > deadline:
            raise TimeoutError("no partition of the deliveries topic was assigned")
        await asyncio.sleep(0.05)
    for partition in consumer.assignment():
        await consumer.position(partition)
