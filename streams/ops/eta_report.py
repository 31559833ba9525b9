"""`dronefleet-streams eta-report`: the ETA error table, read from the tracking topic.

Reads the whole tracking topic from offset 0 up to its current end (no consumer group,
nothing committed), so it can run beside the live workers at any time.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict

from aiokafka import AIOKafkaConsumer, TopicPartition

from contracts import DecodeError, Topics, TrackingUpdated, decode_event
from streams.domain.eta_accuracy import LeadStats, prediction_errors, summarize
from streams.settings import StreamsSettings


async def read_tracking(settings: StreamsSettings) -> list[TrackingUpdated]:
    """Every TrackingUpdated on the topic, up to the end offsets seen at the start."""
    topic = Topics.with_prefix(settings.topic_prefix, settings.partitions).tracking.name
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False
    )
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(settings.partitions)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        remaining = {tp for tp, end in ends.items() if end > 0}
        updates: list[TrackingUpdated] = []
        while remaining:
            batch = await consumer.getmany(timeout_ms=1000)
            for tp, records in batch.items():
                for record in records:
                    if record.value is not None:
                        try:
                            event = decode_event(record.value)
                        except DecodeError:
                            continue
                        if isinstance(event, TrackingUpdated):
                            updates.append(event)
                    if record.offset + 1 >= ends[tp]:
                        remaining.discard(tp)
        return updates
    finally:
        await consumer.stop()


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
