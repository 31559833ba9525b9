"""The stream worker: topics, tables, batched stages and a Faust agent, wired to processors.

Agents and stages here only decode the record's origin, call a processor and send what
it returns. Each catches every exception per record and dead-letters it: in Faust an
exception in an agent acks the record and can stop the agent, so nothing may escape.

Processing is at-least-once (Faust's exactly-once is experimental); the aggregate's
fold ignores sequences it has already applied, so a redelivered record changes nothing.

Topology:
    telemetry (by drone) --gate--> delivery-telemetry (by delivery) | dispatch | deadletter
    deliveries + delivery-commands + delivery-telemetry (co-partitioned by delivery)
        --decide, fold, ETA--> deliveries (the aggregate's events) | tracking | dispatch
    dispatch (one partition: one owner) --AssignDrone--> delivery-commands

The gate and the deliveries fold see every fix and run as batched aiokafka loops in the
same process (`streams.runtime.batch_loop`, each with its own consumer group); the dispatcher,
one record per request or drone change, is a Faust agent.

The deliveries stage is the only writer of a delivery's events after its request, so
their sequence numbers never collide; everyone else sends commands.

Every table is changelogged (the deliveries stage's tables under the same names Faust
gives its own), so a worker that takes over a partition (rebalance, crash) resumes with
the same state. Only the gate's memory (last fix per drone) is per process:
after a restart the first fix of each drone is checked without history.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import faust

from contracts import Topics, utc_now
from streams.domain.eta import EtaModel
from streams.processors.delivery_processor import DeliveryProcessor
from streams.processors.delivery_repository import DeliveryRepository
from streams.processors.dispatcher import DispatchProcessor
from streams.processors.records import OutTopic, SourceRecord
from streams.processors.telemetry_gate import TelemetryGate
from streams.runtime import metrics
from streams.runtime.batch_loop import BatchLoop, LoopConfig, Process, process_records
from streams.runtime.changelogged_table import ChangeloggedTable
from streams.runtime.faust_bends import DronefleetApp
from streams.runtime.horizon import Horizon
from streams.runtime.stages import DeliveriesStage, GateStage
from streams.settings import StreamsSettings

log = logging.getLogger(__name__)


def bootstrap(settings: StreamsSettings, horizon: Horizon | None = None) -> faust.App:
    """Build the worker's app: the composition root of the stream processors.

    `horizon`: the offsets below which records were processed before a reset; their
    outputs are in the log already, so a rebuild only refills the tables from them.
    """
    replayed = horizon or {}
    topics = Topics.with_prefix(settings.topic_prefix, settings.partitions)
    app_id = settings.app_group
    app = DronefleetApp(
        app_id,
        broker=f"kafka://{settings.kafka_bootstrap}",
        store=settings.table_store,
        datadir=str(settings.data_dir),
        web_enabled=settings.web_enabled,
        web_port=settings.web_port,
        topic_partitions=settings.partitions,
        topic_replication_factor=1,
        producer_acks=-1,
        processing_guarantee="at_least_once",
        consumer_auto_offset_reset="earliest",
        topic_allow_declare=True,
        broker_session_timeout=settings.session_timeout_s,
        broker_heartbeat_interval=settings.heartbeat_interval_s,
    )

    def raw_topic(*names: str) -> Any:
        return app.topic(
            *names, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
        )

    dispatch_topic = raw_topic(topics.dispatch.name)
    outputs: dict[OutTopic, Any] = {
        "deliveries": raw_topic(topics.deliveries.name),
        "delivery_commands": raw_topic(topics.delivery_commands.name),
        "delivery_telemetry": raw_topic(topics.delivery_telemetry.name),
        "tracking": raw_topic(topics.tracking.name),
        "dispatch": dispatch_topic,
        "deadletter": raw_topic(topics.deadletter.name),
    }

    def raw_table(name: str, partitions: int) -> Any:
        # Every table is keyed like its source records (delivery id, or the constant
        # dispatch key), so the producer's partitioner puts each changelog record on the
        # source record's partition. Faust's own per-record check of that reads a
        # metadata snapshot that can hold 0 partitions for a changelog created moments
        # before, and then refuses every update; use_partitioner skips that check.
        return app.Table(
            name,
            default=None,
            key_type=bytes,  # bytes keys and values: Faust uses its raw codec
            value_type=bytes,
            partitions=partitions,
            use_partitioner=True,
        )

    def loop(group: str, stage: GateStage | DeliveriesStage, *sources: str) -> BatchLoop:
        return BatchLoop(
            LoopConfig(
                bootstrap=settings.kafka_bootstrap,
                group=group,
                source_topics=sources,
                batch_size=settings.batch_size,
                co_partitioned=len(sources) > 1,
                session_timeout_s=settings.session_timeout_s,
                heartbeat_interval_s=settings.heartbeat_interval_s,
                instance_id=settings.instance_id,
            ),
            stage,
        )

    names = {key: topic.get_topic_name() for key, topic in outputs.items()}
    telemetry_gate = TelemetryGate()
    gate = loop(settings.gate_group, GateStage(telemetry_gate, names), topics.telemetry.name)
    states, tracking, parked = (
        ChangeloggedTable(f"{app_id}-{name}-changelog")
        for name in ("delivery-state", "delivery-tracking", "delivery-parked-commands")
    )
    app.stage_changelogs = {
        table.changelog_topic: settings.partitions for table in (states, tracking, parked)
    }
    deliveries = DeliveryProcessor.over_tables(
        DeliveryRepository(states, tracking, parked),
        commands_topic=topics.delivery_commands.name,
        eta_model=EtaModel(
            cruise_speed_mps=settings.cruise_speed_mps,
            cruise_altitude_m=settings.cruise_altitude_m,
            climb_rate_mps=settings.climb_rate_mps,
            descent_rate_mps=settings.descent_rate_mps,
            pickup_dwell_s=settings.dwell_s,
            dropoff_dwell_s=settings.dwell_s,
        ),
        min_interval=timedelta(seconds=settings.tracking_min_interval_s),
    )
    fold = loop(
        settings.deliveries_group,
        DeliveriesStage(
            deliveries, (states, tracking, parked), names, settings.kafka_bootstrap, replayed
        ),
        topics.deliveries.name,
        topics.delivery_commands.name,
        topics.delivery_telemetry.name,
    )
    fleet = raw_table("dispatch-fleet", topics.dispatch.partitions)
    dispatcher = DispatchProcessor(
        fleet=fleet, queue=raw_table("dispatch-queue", topics.dispatch.partitions)
    )

    async def reindex_fleet() -> None:
        """After a rebalance the table may hold another worker's writes."""
        dispatcher.forget_fleet_index()

    fleet.on_recover(reindex_fleet)

    by_name = {topic.get_topic_name(): topic for topic in outputs.values()}

    async def run(stream: Any, processor_name: str, process: Process) -> None:
        """An agent's body: the batched stages' per-record step, for one record at a time."""
        async for event in stream.events():
            message = event.message
            source = SourceRecord(
                message.topic, message.partition, message.offset, message.key, message.value
            )
            for record in process_records(
                process, processor_name, [source], names, utc_now(), replayed
            ):
                await by_name[record.topic].send(key=record.key, value=record.value)

    app.stage_runs = (gate.supervise, fold.supervise)  # see DronefleetApp for when
    app.gc_freezing = settings
    port = settings.metrics_port
    if port is not None:
        registry = metrics.gate_registry(telemetry_gate)
        app.serve_metrics = lambda: metrics.serve(registry, settings.metrics_host, port)

    @app.agent(dispatch_topic, name="dispatch")
    async def dispatch(stream: Any) -> None:
        await run(stream, "dispatch", dispatcher.process)

    return app
