"""A record to produce, as the producers of every service build it."""

from __future__ import annotations

from typing import NamedTuple


class WireRecord(NamedTuple):
    """One record to produce: the real topic name, its key and its value."""

    topic: str
    key: bytes
    value: bytes
