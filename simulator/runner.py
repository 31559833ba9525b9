"""The Kafka adapter: assignments in, telemetry and milestones out, on the wall clock.

The engine is stepped every 1/telemetry_hz seconds with the current UTC time. Telemetry
goes to the telemetry topic; pickups and drop-offs go as reports (commands) to the
delivery aggregate. Drone assignments are read from the deliveries topic (every
partition, from the end: this process flies only what is assigned while it runs) and
handed to the engine.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from contracts import (
    DecodeError,
    Delivered,
    DroneAssigned,
    Event,
    PickedUp,
    ReportDropoff,
    ReportPickup,
    TelemetryReported,
    Topics,
    decode_event,
    encode_command,
    encode_event,
    utc_now,
)
from simulator.demand import PoissonDemand, post_order
from simulator.engine import FleetEngine
from simulator.settings import SimulatorSettings

log = logging.getLogger(__name__)


@dataclass
class RunStats:
    """What the run achieved, for the progress line and the summary."""

    telemetry_sent: int = 0
    milestones_sent: int = 0
    assignments: int = 0
    requests_posted: int = 0
    request_errors: int = 0
    send_errors: int = 0
    ticks: int = 0
    late_ticks: int = 0


class SimulatorRunner:
    """Runs an engine against Kafka until the duration ends or `stop()` is called."""

    def __init__(
        self, settings: SimulatorSettings, engine: FleetEngine, demand: PoissonDemand | None
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.demand = demand
        self.topics = Topics.with_prefix(settings.topic_prefix)
        self.stats = RunStats()
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        """Finish the current tick and return."""
        self._stopping.set()

    async def run(self) -> RunStats:
        """Produce until done; return the statistics."""
        producer = AIOKafkaProducer(
            bootstrap_servers=self.settings.kafka_bootstrap,
            acks="all",
            enable_idempotence=True,
            linger_ms=5,
        )
        # Without a group id, aiokafka assigns every partition of the subscribed topic.
        consumer = AIOKafkaConsumer(
            self.topics.deliveries.name,
            bootstrap_servers=self.settings.kafka_bootstrap,
            enable_auto_commit=False,
            auto_offset_reset="latest",
        )
        await producer.start()
        await consumer.start()
        tasks: list[asyncio.Task[None]] = []
        try:
            tasks.append(asyncio.create_task(self._consume_assignments(consumer)))
            if self.demand is not None:
                tasks.append(asyncio.create_task(self._create_demand(self.demand)))
            await self._fly(producer)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await producer.stop()
            await consumer.stop()
        return self.stats

    async def _fly(self, producer: AIOKafkaProducer) -> None:
        interval = 1.0 / self.settings.telemetry_hz
        started = time.monotonic()
        next_tick = started
        while not self._stopping.is_set():
            if self.settings.duration_s and time.monotonic() - started >= self.settings.duration_s:
                return
            events = self.engine.step(utc_now(), interval)
            self.stats.ticks += 1
            await self._send(producer, events)
            next_tick += interval
            delay = next_tick - time.monotonic()
            if delay < 0:
                self.stats.late_ticks += 1
                next_tick = time.monotonic()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=max(delay, 0))

    async def _send(self, producer: AIOKafkaProducer, events: list[Event]) -> None:
        futures = []
        for event in events:
            topic, value = self._wire(event)
            futures.append(await producer.send(topic, value, key=event.aggregate_id.encode()))
        for event, future in zip(events, futures, strict=True):
            try:
                await future
            except Exception as error:
                self.stats.send_errors += 1
                log.warning("send failed for %s: %s", event.event_type, error)
                continue
            if isinstance(event, TelemetryReported):
                self.stats.telemetry_sent += 1
            else:
                self.stats.milestones_sent += 1

    def _wire(self, event: Event) -> tuple[str, bytes]:
        """Telemetry is an event; a milestone is a report the delivery aggregate decides on.

        The drone does not write the delivery's events itself: only the aggregate does,
        so their sequence numbers never collide with a cancellation or a reassignment.
        """
        if isinstance(event, PickedUp | Delivered):
            kind = ReportPickup if isinstance(event, PickedUp) else ReportDropoff
            report = kind(
                command_id=event.event_id,
                delivery_id=event.delivery_id,
                issued_at=event.recorded_at,
                drone_id=event.drone_id,
                observed_at=event.occurred_at,
            )
            return self.topics.delivery_commands.name, encode_command(report)
        return self.topics.telemetry.name, encode_event(event)

    async def _consume_assignments(self, consumer: AIOKafkaConsumer) -> None:
        async for record in consumer:
            if record.value is None:
                continue
            try:
                event = decode_event(record.value)
            except DecodeError:
                continue  # the stream processors dead-letter what they cannot read
            if isinstance(event, DroneAssigned) and self.engine.assign(event):
                self.stats.assignments += 1

    async def _create_demand(self, demand: PoissonDemand) -> None:
        async with httpx.AsyncClient(base_url=self.settings.api_url, timeout=10.0) as client:
            while True:
                await asyncio.sleep(demand.next_gap_s())
                try:
                    await post_order(client, self.settings.api_key, demand.next_order())
                    self.stats.requests_posted += 1
                except httpx.HTTPError as error:
                    self.stats.request_errors += 1
                    log.warning("delivery request failed: %s", error)
