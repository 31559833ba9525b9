"""Producing to and reading from the real broker in tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import ConsumerRecord

from contracts import Event, FleetHeard, decode_event, encode_event
from kafkaio.connection import Broker, aiokafka_options


async def produce(
    bootstrap: Broker, topic: str, records: Sequence[Event | tuple[bytes, bytes]]
) -> None:
    """Send events (keyed by aggregate id) or raw (key, value) pairs, and wait for acks."""
    producer = AIOKafkaProducer(**aiokafka_options(bootstrap), acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for item in records:
            if isinstance(item, tuple):
                key, value = item
            else:
                key, value = item.aggregate_id.encode(), encode_event(item)
            await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()


async def collect(
    bootstrap: Broker,
    topic: str,
    done: Callable[[list[ConsumerRecord[bytes, bytes]]], bool],
    timeout_s: float = 60.0,
) -> list[ConsumerRecord[bytes, bytes]]:
    """Read the topic from the beginning until `done(records)` holds; fail on timeout."""
    consumer = AIOKafkaConsumer(
        topic,
        **aiokafka_options(bootstrap),
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    records: list[ConsumerRecord[bytes, bytes]] = []
    deadline = time.monotonic() + timeout_s
    try:
        while not done(records):
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"timed out after {timeout_s}s on {topic}; got {len(records)} records"
                )
            batch = await consumer.getmany(timeout_ms=500)
            for partition_records in batch.values():
                records.extend(partition_records)
    finally:
        await consumer.stop()
    return records


async def known_to_dispatch(bootstrap: str, dispatch_topic: str, drones: set[str]) -> None:
    """Wait until the gate has told dispatch of every one of `drones` (`FleetHeard`)."""

    def all_known(records: list[ConsumerRecord[bytes, bytes]]) -> bool:
        told = (decode_event(r.value) for r in records if r.value)
        heard = {d.drone_id for e in told if isinstance(e, FleetHeard) for d in e.drones}
        return drones <= heard

    await collect(bootstrap, dispatch_topic, all_known, 90)


async def wait_for(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Poll a condition every 200 ms; fail with `what` on timeout."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        await asyncio.sleep(0.2)
