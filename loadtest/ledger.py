"""Loss and duplicate accounting: what was produced against what the platform kept.

The telemetry topic is the record of what was produced (ids, sequence numbers, where
each record landed); the producers' acknowledgement counts say what should be in it.
Against it:
- no valid record made a processor crash (dead-lettered as `processing_error`: the
  agent survived, but the record was never applied: a requested delivery never
  dispatched, say); counted as lost;
- the projections' `telemetry` table must hold every fix the gate accepted (the
  `accepted-telemetry` topic) exactly once (count against count distinct, and the set
  of keys against that topic's), and no other: a row of a fix the gate only refused is
  a refused fix in the history (`refused_rows`);
- every decodable record of the telemetry topic is accepted (found in
  `accepted-telemetry` by event id) or refused (`unaccounted` counts the others, as lost);
- the stream gate must account for every record: a fix on a mission is forwarded to
  `delivery-telemetry` (found there by event id) or refused; a record it cannot use is
  in `dead_letters` with a reason (found by source topic, partition and offset);
- every poison record is in `dead_letters` with a reason;
- `tracking` holds one update per source event (a second one is a duplicate row), and
  the deliveries topic never holds two different events with one (delivery, sequence).
Idle drones' valid fixes produce nothing downstream; they are counted as not observable.

`account` is pure; `collect` does the reading.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Collection
from dataclasses import asdict, dataclass

import psycopg
from aiokafka import TopicPartition
from aiokafka.structs import ConsumerRecord

from contracts import (
    DecodeError,
    DeliveryEvent,
    TelemetryReported,
    Topics,
    TopicSpec,
    decode_command,
    decode_event,
)
from kafkaio.log_range import read_to_end
from loadtest.poison import SentPoison

TelemetryKey = tuple[str, int]
"""(drone_id, sequence): a fix's identity."""
Where = tuple[int, int]
"""(partition, offset) of a telemetry record."""


@dataclass(frozen=True, slots=True)
class TelemetryRecord:
    """One record of the telemetry topic, decoded if it decodes."""

    partition: int
    offset: int
    fix: TelemetryReported | None
    decodable: bool
    produced_ms: int = 0
    """The record's Kafka timestamp (CreateTime: when the producer took it)."""


@dataclass(frozen=True, slots=True)
class Observed:
    """Everything read back after a run."""

    telemetry: list[TelemetryRecord]
    accepted: list[TelemetryRecord]
    """The `accepted-telemetry` topic: what the gate let into the history."""
    table_keys: list[TelemetryKey]
    forwarded_ids: frozenset[str]
    dead_letters: dict[Where, str]
    """Telemetry records in `dead_letters`: (partition, offset) -> reason."""
    tracking_rows: int
    tracking_sources: int
    delivery_events: list[tuple[str, int, str]]
    """(delivery_id, sequence, event_id) of every record of the deliveries topic."""
    processing_errors: int = 0
    """Dead letters of any topic with reason `processing_error` whose record is a valid
    event or command: a processor crashed on good input (the agent caught it and
    dead-lettered it), so it was never applied."""


@dataclass(frozen=True, slots=True)
class Figures:
    """The verdict of one run."""

    acked: int
    topic_records: int
    acked_not_in_topic: int
    telemetry_expected_rows: int
    telemetry_rows: int
    telemetry_rows_lost: int
    telemetry_duplicate_rows: int
    refused_rows: int
    """Rows of `telemetry` whose fix the gate never accepted (refused fixes as history)."""
    unaccounted: int
    """Decodable telemetry records neither accepted nor dead-lettered."""
    gate_checked: int
    gate_lost: int
    not_observable: int
    poison_sent: int
    poison_dead_lettered: int
    poison_missing: int
    undecodable_in_topic: int
    undecodable_not_dead_lettered: int
    tracking_rows: int
    tracking_duplicate_rows: int
    conflicting_delivery_events: int
    dead_letter_reasons: dict[str, int]
    processing_errors: int

    @property
    def lost(self) -> int:
        """Every kind of loss, added up."""
        return (
            max(self.acked_not_in_topic, 0)
            + self.telemetry_rows_lost
            + self.unaccounted
            + self.gate_lost
            + self.poison_missing
            + self.undecodable_not_dead_lettered
            + self.processing_errors
        )

    @property
    def duplicates(self) -> int:
        """Duplicate rows in the projections."""
        return self.telemetry_duplicate_rows + self.tracking_duplicate_rows

    def as_dict(self) -> dict[str, object]:
        """Plain values, for JSON."""
        return {**asdict(self), "lost": self.lost, "duplicates": self.duplicates}


def account(observed: Observed, acked: int, poison: list[SentPoison]) -> Figures:
    """Compare what was produced with what the platform kept."""
    records = observed.telemetry
    expected = {(r.fix.drone_id, r.fix.sequence) for r in observed.accepted if r.fix is not None}
    accepted_ids = {r.fix.event_id for r in observed.accepted if r.fix is not None}
    table = Counter(observed.table_keys)
    gate_checked = gate_lost = not_observable = unaccounted = 0
    undecodable = undecodable_missing = 0
    for r in records:
        refused = (r.partition, r.offset) in observed.dead_letters
        if not r.decodable:
            undecodable += 1
            undecodable_missing += 0 if refused else 1
            continue
        if r.fix is not None and not refused and r.fix.event_id not in accepted_ids:
            unaccounted += 1
        if r.fix is None or r.fix.delivery_id is None:
            not_observable += 0 if refused else 1
            continue
        gate_checked += 1
        if not refused and r.fix.event_id not in observed.forwarded_ids:
            gate_lost += 1
    poison_found = sum(
        1 for p in poison if observed.dead_letters.get((p.partition, p.offset), "") != ""
    )
    versions: dict[tuple[str, int], set[str]] = {}
    for delivery_id, sequence, event_id in observed.delivery_events:
        versions.setdefault((delivery_id, sequence), set()).add(event_id)
    return Figures(
        acked=acked,
        topic_records=len(records),
        acked_not_in_topic=acked - len(records),
        telemetry_expected_rows=len(expected),
        telemetry_rows=sum(table.values()),
        telemetry_rows_lost=len(expected - table.keys()),
        telemetry_duplicate_rows=sum(table.values()) - len(table),
        refused_rows=len(table.keys() - expected),
        unaccounted=unaccounted,
        gate_checked=gate_checked,
        gate_lost=gate_lost,
        not_observable=not_observable,
        poison_sent=len(poison),
        poison_dead_lettered=poison_found,
        poison_missing=len(poison) - poison_found,
        undecodable_in_topic=undecodable,
        undecodable_not_dead_lettered=undecodable_missing,
        tracking_rows=observed.tracking_rows,
        tracking_duplicate_rows=observed.tracking_rows - observed.tracking_sources,
        conflicting_delivery_events=sum(len(ids) - 1 for ids in versions.values()),
        dead_letter_reasons=dict(Counter(observed.dead_letters.values())),
        processing_errors=observed.processing_errors,
    )


async def read_topic(bootstrap: str, topic: TopicSpec) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record of a topic, from the beginning to its end offsets as of now."""
    partitions = [TopicPartition(topic.name, p) for p in range(topic.partitions)]
    records: list[ConsumerRecord[bytes, bytes]] = []
    async for batch in read_to_end(
        bootstrap, partitions, max_records=50_000, max_partition_fetch_bytes=8 << 20
    ):
        records.extend(batch.records)
    return records


def decode_telemetry(records: list[ConsumerRecord[bytes, bytes]]) -> list[TelemetryRecord]:
    """Decode the telemetry topic's records, keeping where each one was."""
    out = []
    for record in records:
        fix: TelemetryReported | None = None
        try:
            event = decode_event(record.value or b"")
        except (DecodeError, ValueError):  # ValueError: invalid UTF-8 in a string
            decodable = False
        else:
            decodable = True
            fix = event if isinstance(event, TelemetryReported) else None
        out.append(
            TelemetryRecord(record.partition, record.offset, fix, decodable, record.timestamp)
        )
    return out


def partitions_silent_since(
    records: list[TelemetryRecord],
    partitions: int,
    since_ms: int,
    not_the_simulators: Collection[Where] = (),
) -> list[int]:
    """The topic's partitions that got no simulator record produced at or after `since_ms`.

    After a fault every partition must hear from the simulator again: one that stays
    silent has a producer the broker refuses (after a Kafka outage an idempotent
    producer with a gap in its sequence numbers is refused for good, partition by
    partition; `kafkaio.batch_sender`). The loss ledger cannot see that: it accounts
    for acknowledged records, and a refused record is never acknowledged.
    `not_the_simulators`: where other producers' records are (the harness's poison).
    """
    others = set(not_the_simulators)
    heard = {
        r.partition
        for r in records
        if r.produced_ms >= since_ms and (r.partition, r.offset) not in others
    }
    return [p for p in range(partitions) if p not in heard]


def _valid(value: bytes) -> bool:
    """Whether a record is a valid event or command (then a processor must not crash on it)."""
    for decode in (decode_event, decode_command):
        try:
            decode(value)
        except (DecodeError, ValueError):
            continue
        return True
    return False


def _event_ids(records: list[ConsumerRecord[bytes, bytes]]) -> frozenset[str]:
    ids = set()
    for record in records:
        try:
            ids.add(decode_event(record.value or b"").event_id)
        except (DecodeError, ValueError):  # ValueError: invalid UTF-8 in a string
            continue
    return frozenset(ids)


def _delivery_versions(records: list[ConsumerRecord[bytes, bytes]]) -> list[tuple[str, int, str]]:
    out = []
    for record in records:
        try:
            event = decode_event(record.value or b"")
        except (DecodeError, ValueError):  # ValueError: invalid UTF-8 in a string
            continue
        if isinstance(event, DeliveryEvent):
            out.append((event.delivery_id, event.sequence, event.event_id))
    return out


async def collect(bootstrap: str, dsn: str, topics: Topics) -> Observed:
    """Read the topics and the projections after a run."""
    telemetry = decode_telemetry(await read_topic(bootstrap, topics.telemetry))
    accepted = decode_telemetry(await read_topic(bootstrap, topics.accepted_telemetry))
    forwarded = _event_ids(await read_topic(bootstrap, topics.delivery_telemetry))
    deliveries = _delivery_versions(await read_topic(bootstrap, topics.deliveries))
    with psycopg.connect(dsn) as conn:
        keys = [
            (str(d), int(s))
            for d, s in conn.execute("SELECT drone_id, sequence FROM telemetry").fetchall()
        ]
        dead = {
            (int(p), int(o)): str(r)
            for p, o, r in conn.execute(
                "SELECT source_partition, source_offset, reason FROM dead_letters"
                " WHERE source_topic = %s",
                (topics.telemetry.name,),
            ).fetchall()
        }
        row = conn.execute(
            "SELECT count(*), count(DISTINCT source_event_id) FROM tracking"
        ).fetchone()
        crashed = [
            bytes(value)
            for (value,) in conn.execute(
                "SELECT value FROM dead_letters WHERE reason = 'processing_error'"
            ).fetchall()
        ]
        assert row is not None
    return Observed(
        telemetry=telemetry,
        accepted=accepted,
        table_keys=keys,
        forwarded_ids=forwarded,
        dead_letters=dead,
        tracking_rows=int(row[0]),
        tracking_sources=int(row[1]),
        delivery_events=deliveries,
        processing_errors=sum(_valid(value) for value in crashed),
    )


def collect_sync(bootstrap: str, dsn: str, topics: Topics) -> Observed:
    """`collect`, for synchronous callers."""
    return asyncio.run(collect(bootstrap, dsn, topics))
