"""A record to produce, as the producers of every service build it."""

from __future__ import annotations

from typing import NamedTuple


class WireRecord(NamedTuple):
    """One record to produce: the real topic name, its key and its value.

    `value=None` is a tombstone (a changelog's deletion). `partition` pins the partition;
    by default the key's hash chooses it, as every Kafka producer would.
    """

    topic: str
    key: bytes
    value: bytes | None
    partition: int | None = None
