"""The dead-letter record: a refused record, why it was refused, and the record itself.

Processors never drop input silently: whatever they cannot use goes to the dead-letter
topic in this envelope, keyed by the source topic, with the original bytes (base64) so
that nothing is lost and a fixed consumer can replay it.
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Annotated

import msgspec

from contracts.events import UtcDatetime


class DeadLetter(msgspec.Struct, frozen=True, kw_only=True):
    """One refused record."""

    source_topic: str
    source_partition: int
    source_offset: int
    processor: str
    reason: Annotated[str, msgspec.Meta(min_length=1)]
    detail: str
    key_b64: str | None
    value_b64: str
    refused_at: UtcDatetime

    @classmethod
    def wrap(
        cls,
        *,
        source_topic: str,
        source_partition: int,
        source_offset: int,
        processor: str,
        reason: str,
        detail: str,
        key: bytes | None,
        value: bytes,
        refused_at: datetime,
    ) -> DeadLetter:
        """Build the record around the original key and value bytes."""
        return cls(
            source_topic=source_topic,
            source_partition=source_partition,
            source_offset=source_offset,
            processor=processor,
            reason=reason,
            detail=detail[:2000],
            key_b64=base64.b64encode(key).decode() if key is not None else None,
            value_b64=base64.b64encode(value).decode(),
            refused_at=refused_at,
        )

    def original_value(self) -> bytes:
        """The refused record's value, as it was."""
        return base64.b64decode(self.value_b64)


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(DeadLetter)


def encode_dead_letter(record: DeadLetter) -> bytes:
    """Wire form of a dead-letter record (JSON)."""
    return _encoder.encode(record)


def decode_dead_letter(data: bytes) -> DeadLetter:
    """Parse a dead-letter record (raises msgspec.DecodeError on garbage)."""
    return _decoder.decode(data)
