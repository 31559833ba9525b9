"""What flows through a processor: the consumed record, the records to send, dead letters.

Processors take a `SourceRecord` and return `Outgoing` records to logical topics; the
runtime maps those to real topics and sends them (the batched stages in a batch, the
dispatcher's Faust agent one by one). Keeping the envelope here lets every processor
dead-letter the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from contracts import DeadLetter, DecodeError, encode_dead_letter
from streams.errors import RecordRefusedError

OutTopic = Literal[
    "deliveries",
    "delivery_commands",
    "delivery_telemetry",
    "accepted_telemetry",
    "tracking",
    "dispatch",
    "deadletter",
]
"""The logical topics a processor may send to (the app maps them to real topics)."""


@dataclass(frozen=True, slots=True)
class SourceRecord:
    """A consumed record and where it came from (for dead-letter envelopes)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A record to send: which logical topic, its key and value."""

    topic: OutTopic
    key: bytes
    value: bytes


def dead_letter(
    record: SourceRecord, processor: str, reason: str, detail: str, now: datetime
) -> Outgoing:
    """The outgoing dead-letter record for a refused input."""
    envelope = DeadLetter.wrap(
        source_topic=record.topic,
        source_partition=record.partition,
        source_offset=record.offset,
        processor=processor,
        reason=reason,
        detail=detail,
        key=record.key,
        value=record.value,
        refused_at=now,
    )
    return Outgoing("deadletter", record.topic.encode(), encode_dead_letter(envelope))


REFUSALS = (DecodeError, RecordRefusedError)
"""Why a processor will not apply a record: bytes the codec refuses, or a typed refusal
(`except REFUSALS` in a processor's `process` is where they become dead letters)."""


def refused(
    record: SourceRecord, processor: str, refusal: DecodeError | RecordRefusedError, now: datetime
) -> Outgoing:
    """The dead letter of a refused record, with the refusal's reason and detail."""
    return dead_letter(record, processor, refusal.reason, refusal.detail, now)
