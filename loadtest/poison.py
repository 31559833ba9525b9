"""Poison messages for the telemetry topic: undecodable and semantically invalid ones.

Each kind is one the gate must refuse with a reason (DESIGN.md: "decode and validate
explicitly, route failures to the dead-letter topic, never lose them silently"). The
builders are pure; `send_poison` produces them and returns where each one landed, so
the ledger can look each up in the dead letters by (topic, partition, offset).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta

from aiokafka import AIOKafkaProducer

from contracts import DeliveryRequested, GeoPoint, TelemetryReported, encode_event, new_event_id


@dataclass(frozen=True, slots=True)
class Poison:
    """A poison record: its kind, key and bytes."""

    kind: str
    key: bytes
    value: bytes


@dataclass(frozen=True, slots=True)
class SentPoison:
    """A produced poison record and where Kafka put it."""

    kind: str
    partition: int
    offset: int


def _fix(drone: str, sequence: int, at: datetime, lat: float, lon: float) -> TelemetryReported:
    return TelemetryReported(
        event_id=new_event_id(),
        sequence=sequence,
        occurred_at=at,
        recorded_at=at,
        drone_id=drone,
        delivery_id=None,
        lat=lat,
        lon=lon,
        altitude_m=60.0,
        ground_speed_mps=10.0,
        heading_deg=90.0,
        battery_pct=80.0,
        phase="idle",
    )


def poison_batch(now: datetime, round_no: int) -> list[Poison]:
    """One of each kind, on drones of their own (so no real drone's history is touched)."""
    drone = f"poison-{round_no}"
    valid = encode_event(_fix(drone, 1, now, 47.37, 8.54))
    request = DeliveryRequested(
        event_id=new_event_id(),
        sequence=1,
        occurred_at=now,
        recorded_at=now,
        delivery_id=f"poison-delivery-{round_no}",
        business_id="poison",
        pickup=GeoPoint(47.37, 8.54),
        dropoff=GeoPoint(47.38, 8.55),
    )
    return [
        Poison("not_json", drone.encode(), b"\x00\xffnot json at all"),
        Poison("truncated_json", drone.encode(), valid[: len(valid) // 2]),
        Poison("empty", drone.encode(), b""),
        Poison("wrong_schema", drone.encode(), b'{"event_type":"TelemetryReported","lat":"x"}'),
        Poison("unknown_type", drone.encode(), b'{"event_type":"Teleport","event_id":"x"}'),
        Poison("out_of_range", drone.encode(), valid.replace(b'"lat":47.37', b'"lat":147.37')),
        Poison("null_island", drone.encode(), encode_event(_fix(drone + "-0", 1, now, 0.0, 0.0))),
        Poison(
            "future_timestamp",
            drone.encode(),
            encode_event(_fix(drone + "-f", 1, now + timedelta(hours=2), 47.37, 8.54)),
        ),
        Poison("unexpected_type", drone.encode(), encode_event(request)),
    ]


POISON_KINDS = len(poison_batch(datetime(2026, 1, 1).astimezone(), 0))
"""How many poison records one batch holds."""


async def send_poison(bootstrap: str, topic: str, records: list[Poison]) -> list[SentPoison]:
    """Produce the records (acks=all) and return where each landed."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        futures = [await producer.send(topic, r.value, key=r.key) for r in records]
        metadata = await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return [
        SentPoison(record.kind, meta.partition, meta.offset)
        for record, meta in zip(records, metadata, strict=True)
    ]
