"""What one attempt at posting a message gave: written with the attempt, shown to the business."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one attempt gave."""

    delivered: bool
    kind: str
    """`delivered`, `http_error`, `timeout`, `connect_error`, `refused_address`."""
    response_code: int | None
    latency_ms: float
    detail: str
    """The start of the receiver's answer (at most `response_max_bytes`), or the error."""
