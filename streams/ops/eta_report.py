"""`dronefleet-streams eta-report`: the ETA error table, read from the tracking topic.

Reads the whole tracking topic from offset 0 up to its current end (no consumer group,
nothing committed: `kafkaio.log_range`), so it can run beside the live workers at any time.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict

from aiokafka import TopicPartition

from contracts import DecodeError, TrackingUpdated, decode_event
from kafkaio.log_range import read_to_end
from streams.domain.eta_accuracy import LeadStats, prediction_errors, summarize
from streams.settings import StreamsSettings


async def read_tracking(settings: StreamsSettings) -> list[TrackingUpdated]:
    """Every TrackingUpdated on the topic, up to the end offsets seen at the start."""
    tracking = settings.topics.tracking
    partitions = [TopicPartition(tracking.name, p) for p in range(tracking.partitions)]
    updates: list[TrackingUpdated] = []
    async for batch in read_to_end(settings.kafka, partitions):
        updates.extend(u for r in batch.records if (u := _tracking_update(r.value)) is not None)
    return updates


def _tracking_update(value: bytes | None) -> TrackingUpdated | None:
    """The record's update; None for a tombstone, another event or bytes that do not decode."""
    if value is None:
        return None
    try:
        event = decode_event(value)
    except DecodeError:
        return None
    return event if isinstance(event, TrackingUpdated) else None


def render(stats: list[LeadStats], deliveries: int) -> str:
    """A Markdown table of the error by lead time."""

    def seconds(value: float | None) -> str:
        return "-" if value is None else f"{value:.1f}"

    lines = [
        f"ETA error over {deliveries} delivered deliveries (seconds; error = ETA - arrival)",
        "",
        "| lead time | predictions | median abs error | p90 abs error | median error |",
        "|---|---:|---:|---:|---:|",
    ]
    for s in stats:
        lines.append(
            f"| {s.lead_s / 60:.0f} min | {s.count} | {seconds(s.median_abs_error_s)}"
            f" | {seconds(s.p90_abs_error_s)} | {seconds(s.median_error_s)} |"
        )
    return "\n".join(lines)


def run_report(settings: StreamsSettings, *, as_json: bool) -> str:
    """Read the topic and format the report."""
    updates = asyncio.run(read_tracking(settings))
    delivered = {u.delivery_id for u in updates if u.status == "delivered"}
    stats = summarize(prediction_errors(updates))
    if as_json:
        return json.dumps({"deliveries": len(delivered), "leads": [asdict(s) for s in stats]})
    return render(stats, len(delivered))
