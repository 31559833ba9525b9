"""The Faust application: topics, tables and agents wired to the pure processors.

Agents here only decode the record's origin, call a processor and send what it returns.
Each agent body catches every exception per record and dead-letters it: in Faust an
exception in an agent acks the record and can stop the agent, so nothing may escape.

Processing is at-least-once (Faust's exactly-once is experimental); the aggregate's
fold ignores sequences it has already applied, so a redelivered record changes nothing.

Topology:
    telemetry (by drone) --validate--> delivery-telemetry (by delivery) | deadletter
    deliveries + delivery-telemetry (co-partitioned by delivery) --fold, ETA--> tracking
    dispatch timer: waiting deliveries x fleet view --DroneAssigned--> deliveries

The fleet view that dispatch uses is built from the telemetry this worker validates; with
one worker that is the whole fleet. Scaling dispatch out is the subject of issue 4.
"""

from __future__ import annotations

import logging
import traceback
from datetime import timedelta
from typing import Any

import faust

from contracts import Topics, utc_now
from streams.eta import EtaModel
from streams.processors import (
    DeliveryProcessor,
    Dispatcher,
    Outgoing,
    SourceRecord,
    TelemetryGate,
    dead_letter,
)
from streams.settings import StreamsSettings

log = logging.getLogger(__name__)


def bootstrap(settings: StreamsSettings) -> faust.App:
    """Build the worker's app: the composition root of the stream processors."""
    topics = Topics.with_prefix(settings.topic_prefix, settings.partitions)
    app = faust.App(
        f"{settings.topic_prefix}{settings.app_id}",
        broker=f"kafka://{settings.kafka_bootstrap}",
        store="memory://",
        datadir=str(settings.data_dir),
        web_enabled=settings.web_enabled,
        web_port=settings.web_port,
        topic_partitions=settings.partitions,
        topic_replication_factor=1,
        producer_acks=-1,
        processing_guarantee="at_least_once",
        consumer_auto_offset_reset="earliest",
        topic_allow_declare=True,
    )

    def raw_topic(*names: str) -> Any:
        return app.topic(
            *names, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
        )

    telemetry_topic = raw_topic(topics.telemetry.name)
    delivery_inputs = raw_topic(topics.deliveries.name, topics.delivery_telemetry.name)
    outputs = {
        "deliveries": raw_topic(topics.deliveries.name),
        "delivery_telemetry": raw_topic(topics.delivery_telemetry.name),
        "tracking": raw_topic(topics.tracking.name),
        "deadletter": raw_topic(topics.deadletter.name),
    }

    def raw_table(name: str) -> Any:
        return app.Table(
            name,
            default=None,
            key_type=bytes,  # bytes keys and values: Faust uses its raw codec
            value_type=bytes,
            partitions=settings.partitions,
        )

    gate = TelemetryGate()
    deliveries = DeliveryProcessor(
        states=raw_table("delivery-state"),
        tracking=raw_table("delivery-tracking"),
        eta_model=EtaModel(
            cruise_speed_mps=settings.cruise_speed_mps,
            pickup_dwell_s=settings.dwell_s,
            dropoff_dwell_s=settings.dwell_s,
        ),
        min_interval=timedelta(seconds=settings.tracking_min_interval_s),
    )
    dispatcher = Dispatcher(gate=gate, deliveries=deliveries)

    async def send_all(records: list[Outgoing]) -> None:
        for record in records:
            await outputs[record.topic].send(key=record.key, value=record.value)

    async def run(stream: Any, processor_name: str, handle: Any) -> None:
        async for event in stream.events():
            message = event.message
            source = SourceRecord(
                message.topic, message.partition, message.offset, message.key, message.value
            )
            now = utc_now()
            try:
                records = handle(source, now)
            except Exception as error:
                log.error(
                    "%s failed on %s[%d]@%d: %s",
                    processor_name,
                    source.topic,
                    source.partition,
                    source.offset,
                    traceback.format_exc(),
                )
                records = [
                    dead_letter(source, processor_name, "processing_error", repr(error), now)
                ]
            await send_all(records)

    @app.agent(telemetry_topic, name="validate-telemetry")
    async def validate_telemetry(stream: Any) -> None:
        await run(stream, "validate-telemetry", gate.process)

    @app.agent(delivery_inputs, name="deliveries")
    async def fold_deliveries(stream: Any) -> None:
        await run(stream, "deliveries", deliveries.process)

    @app.timer(interval=settings.dispatch_interval_s)  # type: ignore[untyped-decorator]
    async def dispatch() -> None:
        try:
            records = dispatcher.tick(utc_now())
        except Exception:
            log.exception("dispatch tick failed")
            return
        await send_all(records)

    return app
