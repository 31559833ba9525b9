"""The stream worker's composition root: `bootstrap(settings)` builds it, wired to processors.

Topology:
    telemetry (by drone) --gate--> delivery-telemetry (by delivery) | dispatch | deadletter
                                   | accepted-telemetry (by drone: the projected history)
    deliveries + delivery-commands + delivery-telemetry (co-partitioned by delivery)
        --decide, fold, ETA--> deliveries (the aggregate's events) | tracking | dispatch
    dispatch (one partition: one owner) --AssignDrone--> delivery-commands

The gate and the deliveries fold see every fix and run as batched aiokafka loops in the
same process (`streams.runtime.batch_loop`, each with its own consumer group); the
dispatcher, one record per request or drone change, is a Faust agent with two Faust
tables. Why the split: docs/decisions/0001-faust-and-batched-stages.md.

The stages and the agent only hand a record's origin to a processor and send what it
returns; every exception on a record is caught per record and dead-lettered
(`batch_loop.process_records`, for both): in Faust an exception in an agent acks the
record and can stop the agent, so nothing may escape.

Processing is at-least-once (Faust's exactly-once is experimental); the aggregate's
fold ignores sequences it has already applied, so a redelivered record changes nothing.
The deliveries stage is the only writer of a delivery's events after its request, so
their sequence numbers never collide; everyone else sends commands.

Every table is changelogged (names and partitions: `streams.runtime.tables`), so a
worker that takes over a partition (rebalance, crash) resumes with the same state. Only
the gate's memory (last fix per drone) is per process: after a restart the first fix of
each drone is checked without history.

Each builder below takes what it needs and returns what it built; nothing is configured
after construction.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import faust
from faust.worker import Worker

from contracts import LivenessTick, Topics, encode_event, new_event_id, utc_now
from streams.domain.eta import EtaModel
from streams.domain.wind import WindModel
from streams.processors.delivery_processor import DeliveryProcessor
from streams.processors.delivery_repository import DeliveryRepository
from streams.processors.dispatcher import DispatchProcessor
from streams.processors.records import OutTopic, SourceRecord
from streams.processors.telemetry_gate import FLEET_KEY, TelemetryGate
from streams.processors.tracking_emitter import AirspaceInForce
from streams.runtime import metrics
from streams.runtime.airspace_follower import AirspaceFollower
from streams.runtime.batch_loop import BatchLoop, LoopConfig, Process, process_records
from streams.runtime.changelogged_table import ChangeloggedTable
from streams.runtime.faust_bends import DronefleetApp
from streams.runtime.faust_broker import faust_options
from streams.runtime.horizon import Horizon
from streams.runtime.stages import DeliveriesStage, GateStage
from streams.runtime.stages_service import StagesService
from streams.runtime.tables import (
    DELIVERIES_TABLES,
    DISPATCH_TABLES,
    FAUST_APP_VERSION,
    changelog_topic,
    local_table_dir,
)
from streams.settings import StreamsSettings


@dataclass(frozen=True)
class StreamWorker:
    """A worker, built and not started: the Faust app and the stages that run beside it."""

    app: DronefleetApp
    stages: StagesService

    def faust_worker(self, loglevel: str, logging: dict[str, Any] | None = None) -> Worker:
        """Faust's worker for the app, with the stages as a service it starts first.

        `logging`: a `dictConfig` dictionary (`runtime.logs`) for Faust to set up instead
        of its own format.
        """
        return Worker(self.app, self.stages, loglevel=loglevel, logging_config=logging)

    def run(self, loglevel: str, logging: dict[str, Any] | None = None) -> None:
        """Run until stopped (a signal), as `dronefleet-streams worker` does."""
        self.faust_worker(loglevel, logging).execute_from_commandline()


def bootstrap(settings: StreamsSettings, horizon: Horizon | None = None) -> StreamWorker:
    """Build the worker from its settings.

    `horizon`: the offsets below which records were processed before a reset; their
    outputs are in the log already, so a rebuild only refills the tables from them.
    """
    replayed = horizon or {}
    topics = settings.topics
    outputs = output_topics(topics)
    gate = TelemetryGate(
        fleet_refresh=timedelta(seconds=settings.fleet_refresh_s),
        name=settings.instance_id or settings.app_id,
    )
    app = faust_app(settings)
    dispatcher = add_dispatch_agent(app, topics, outputs, replayed, dispatch_processor(settings))
    airspace = AirspaceFollower(settings.kafka, topics.airspace.name, AirspaceInForce())
    add_liveness_timer(app, settings, topics, airspace)
    loops = (
        gate_loop(settings, topics, gate, outputs),
        deliveries_loop(settings, topics, outputs, replayed, airspace.in_force),
    )
    stages = StagesService(
        loops,
        serve_metrics=metrics_endpoint(settings, gate, dispatcher, loops),
        gc_freezing=settings,
        followers=(airspace.follow,),
    )
    return StreamWorker(app, stages)


def output_topics(topics: Topics) -> dict[OutTopic, str]:
    """The real topic of each logical topic a processor sends to."""
    return {
        "deliveries": topics.deliveries.name,
        "delivery_commands": topics.delivery_commands.name,
        "delivery_telemetry": topics.delivery_telemetry.name,
        "accepted_telemetry": topics.accepted_telemetry.name,
        "tracking": topics.tracking.name,
        "dispatch": topics.dispatch.name,
        "deadletter": topics.deadletter.name,
    }


def stage_loop(
    settings: StreamsSettings, group: str, stage: GateStage | DeliveriesStage, *sources: str
) -> BatchLoop:
    """The consumer loop of a batched stage, in its own group."""
    return BatchLoop(
        LoopConfig(
            bootstrap=settings.kafka,
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


def gate_loop(
    settings: StreamsSettings,
    topics: Topics,
    gate: TelemetryGate,
    outputs: Mapping[OutTopic, str],
) -> BatchLoop:
    """The telemetry gate: validates `telemetry`, routes the valid fixes."""
    return stage_loop(
        settings, settings.gate_group, GateStage(gate, outputs), topics.telemetry.name
    )


def deliveries_loop(
    settings: StreamsSettings,
    topics: Topics,
    outputs: Mapping[OutTopic, str],
    replayed: Horizon,
    airspace: AirspaceInForce | None = None,
) -> BatchLoop:
    """The deliveries fold over its three changelogged tables.

    The ETA routes around `airspace`'s zones (None: straight lines).
    """
    states, tracking, parked = (
        ChangeloggedTable(changelog_topic(settings, table)) for table in DELIVERIES_TABLES
    )
    eta = eta_model(settings)
    processor = DeliveryProcessor.over_tables(
        DeliveryRepository(states, tracking, parked),
        commands_topic=topics.delivery_commands.name,
        eta_model=eta,
        min_interval=timedelta(seconds=settings.tracking_min_interval_s),
        airspace=airspace,
        wind=settings.wind_enabled,
        wind_model=wind_model(settings, eta),
    )
    stage = DeliveriesStage(
        processor, (states, tracking, parked), outputs, settings.kafka, replayed
    )
    return stage_loop(
        settings,
        settings.deliveries_group,
        stage,
        topics.deliveries.name,
        topics.delivery_commands.name,
        topics.delivery_telemetry.name,
    )


def eta_model(settings: StreamsSettings) -> EtaModel:
    """The fleet's flight profile, as the ETA needs it."""
    return EtaModel(
        cruise_speed_mps=settings.cruise_speed_mps,
        cruise_altitude_m=settings.cruise_altitude_m,
        climb_rate_mps=settings.climb_rate_mps,
        descent_rate_mps=settings.descent_rate_mps,
        pickup_dwell_s=settings.dwell_s,
        dropoff_dwell_s=settings.dwell_s,
        acceleration_mps2=settings.acceleration_mps2,
        deceleration_mps2=settings.deceleration_mps2,
    )


def wind_model(settings: StreamsSettings, eta: EtaModel) -> WindModel:
    """How the ETA learns the wind: the settings' parameters, the fleet's airspeed."""
    return WindModel(
        airspeed_mps=eta.cruise_speed_mps,
        min_speed_fraction=eta.min_speed_fraction,
        cell_m=settings.wind_cell_m,
        half_life_s=settings.wind_half_life_s,
        min_weight=settings.wind_min_fixes,
        min_spread_mps=settings.wind_min_spread_mps,
        max_wind_fraction=settings.wind_max_fraction,
        max_cells=settings.wind_max_cells,
        resolve_s=settings.wind_resolve_s,
        retime_s=settings.wind_retime_s,
        steady_tolerance_mps=settings.wind_steady_tolerance_mps,
    )


def metrics_endpoint(
    settings: StreamsSettings,
    gate: TelemetryGate,
    dispatcher: DispatchProcessor | None = None,
    loops: Sequence[BatchLoop] = (),
) -> Callable[[], Coroutine[Any, Any, None]] | None:
    """What serves the worker's probes and metrics (`streams.runtime.metrics`); None: no port."""
    port = settings.metrics_port
    if port is None:
        return None
    probes = metrics.worker_probes(gate, dispatcher, loops)
    return lambda: metrics.serve(probes, settings.metrics_host, port)


def faust_app(settings: StreamsSettings) -> DronefleetApp:
    """The Faust app that hosts the dispatcher: at-least-once, acks=all, declared topics."""
    return DronefleetApp(
        settings.app_group,
        **faust_options(settings.kafka),
        store=settings.table_store,
        datadir=str(settings.data_dir),
        version=FAUST_APP_VERSION,
        tabledir=str(local_table_dir(settings)),
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


def dispatch_processor(settings: StreamsSettings) -> DispatchProcessor:
    """The dispatcher with its liveness settings, over empty tables (the agent's replace them)."""
    return DispatchProcessor(
        fleet={},
        queue={},
        take_up_within=timedelta(seconds=settings.assignment_take_up_s),
        silent_after=timedelta(seconds=settings.drone_silent_after_s),
        promise=timedelta(seconds=settings.wait_promise_s),
    )


def add_dispatch_agent(
    app: faust.App,
    topics: Topics,
    outputs: Mapping[OutTopic, str],
    replayed: Horizon,
    configured: DispatchProcessor | None = None,
) -> DispatchProcessor:
    """The dispatcher, over two Faust tables, as the app's one agent (on `dispatch`)."""
    fleet, queue = (
        faust_table(app, table, topics.dispatch.partitions) for table in DISPATCH_TABLES
    )
    configured = configured or DispatchProcessor(fleet={}, queue={})
    dispatcher = dataclasses.replace(configured, fleet=fleet, queue=queue)

    async def reindex_fleet() -> None:
        """After a rebalance the table may hold another worker's writes."""
        dispatcher.forget_fleet_index()

    fleet.on_recover(reindex_fleet)
    sinks = {name: raw_topic(app, name) for name in outputs.values()}

    @app.agent(sinks[topics.dispatch.name], name="dispatch")
    async def dispatch(stream: Any) -> None:
        await send_each(stream, "dispatch", dispatcher.process, outputs, sinks, replayed)

    return dispatcher


def add_liveness_timer(
    app: faust.App,
    settings: StreamsSettings,
    topics: Topics,
    airspace: AirspaceFollower | None = None,
) -> None:
    """Every `liveness_tick_s`, the group's leader writes its wall time into `dispatch`.

    The dispatcher decides on time only on these ticks (`streams.processors.dispatcher`
    says why); one writer, the leader, so a group of workers does not tick N times.
    Before a tick, the leader copies the airspace it follows into the topic when it has
    not copied that one yet (a new version, or a new leader: dispatch ignores one it has
    already), so dispatch reads the airspace in its log, where a rebuild reads it too.
    """
    sink = raw_topic(app, topics.dispatch.name)
    ticks = itertools.count(1)

    async def liveness_tick() -> None:
        uncopied = airspace.uncopied() if airspace is not None else None
        if airspace is not None and uncopied is not None:
            await sink.send(key=FLEET_KEY, value=uncopied)
            airspace.copied = uncopied
        now = utc_now()
        tick = LivenessTick(
            event_id=new_event_id(),
            sequence=next(ticks),
            occurred_at=now,
            recorded_at=now,
            worker=settings.instance_id or settings.app_id,
        )
        await sink.send(key=FLEET_KEY, value=encode_event(tick))

    # Faust's timer decorator is untyped: applied as a call, it types nothing away.
    app.timer(interval=settings.liveness_tick_s, on_leader=True, name="liveness-tick")(
        liveness_tick
    )


def raw_topic(app: faust.App, name: str) -> Any:
    """A Faust topic of raw bytes (the processors decode and encode themselves)."""
    return app.topic(
        name, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
    )


def faust_table(app: faust.App, table: str, partitions: int) -> Any:
    """A Faust table of raw bytes, its changelog partition chosen by the key.

    Every table is keyed like its source records (the constant dispatch key), so the
    producer's partitioner puts each changelog record on the source record's partition.
    Faust's own per-record check of that reads a metadata snapshot that can hold 0
    partitions for a changelog created moments before, and then refuses every update;
    use_partitioner skips that check.
    """
    return app.Table(
        table,
        default=None,
        key_type=bytes,  # bytes keys and values: Faust uses its raw codec
        value_type=bytes,
        partitions=partitions,
        use_partitioner=True,
    )


async def send_each(
    stream: Any,
    processor_name: str,
    process: Process,
    outputs: Mapping[OutTopic, str],
    sinks: Mapping[str, Any],
    replayed: Horizon,
) -> None:
    """An agent's body: the batched stages' per-record step, for one record at a time."""
    async for event in stream.events():
        message = event.message
        source = SourceRecord(
            message.topic, message.partition, message.offset, message.key, message.value
        )
        for record in process_records(
            process, processor_name, [source], outputs, utc_now(), replayed
        ):
            await sinks[record.topic].send(key=record.key, value=record.value)
