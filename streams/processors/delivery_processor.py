"""The deliveries stage's processor: each record to the job it is for; refusals to dead letters.

Reads `deliveries`, `delivery-commands` and `delivery-telemetry`, all keyed by delivery
id and co-partitioned, so one worker owns everything about a delivery: its state (the
fold of its events), its tracking memory and its parked commands, in the tables of a
`DeliveryRepository`. A command goes to the `DeliveryCommandHandler`, a delivery event
is applied by it too, and a fix goes to the `TrackingEmitter`.

`process` is the one place where a refused record becomes a dead letter: the jobs raise
typed refusals (`streams.errors.RecordRefusedError`, or the codec's `DecodeError`) and
never build dead letters themselves, so every refusal reaches the dead-letter topic with
its reason, and a bad record never stops the records after it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from contracts import (
    DELIVERY_EVENT_TYPES,
    DeliveryRequested,
    TelemetryReported,
    decode_command,
    decode_event,
)
from streams.domain.eta import EtaModel
from streams.domain.eta_window import EtaWindow
from streams.domain.wind import WindEstimator, WindModel
from streams.errors import UnexpectedRecordError
from streams.processors.delivery_commands import DeliveryCommandHandler
from streams.processors.delivery_repository import DeliveryRepository
from streams.processors.records import REFUSALS, Outgoing, SourceRecord, refused
from streams.processors.tracking_emitter import AirspaceInForce, TrackingEmitter


@dataclass(frozen=True, slots=True)
class DeliveryProcessor:
    """Routes the deliveries stage's records to the command handler or to tracking."""

    commands_topic: str
    """The real name of `delivery-commands` (its records are commands, not events)."""
    repository: DeliveryRepository
    commands: DeliveryCommandHandler
    tracking: TrackingEmitter

    @classmethod
    def over_tables(
        cls,
        repository: DeliveryRepository,
        *,
        commands_topic: str,
        eta_model: EtaModel | None = None,
        min_interval: timedelta = timedelta(seconds=1),
        airspace: AirspaceInForce | None = None,
        wind: bool = True,
        wind_model: WindModel | None = None,
        window: bool = True,
    ) -> DeliveryProcessor:
        """The processor and its jobs, all working on the repository's tables.

        `airspace`: what the ETA routes around (None: straight lines). `wind`: learn the
        wind from the fixes and time each leg with it (False: cruise airspeed, the ETA
        before issue 19's part 3, which the accuracy run replays as its baseline), with
        `wind_model`'s parameters (the worker's settings; None: the defaults). `window`:
        give each ETA its window, learned by the worker (False: none).
        """
        model = eta_model or EtaModel()
        if wind_model is None:
            wind_model = WindModel(
                airspeed_mps=model.cruise_speed_mps, min_speed_fraction=model.min_speed_fraction
            )
        estimator = WindEstimator(wind_model) if wind else None
        tracking = TrackingEmitter(
            repository, model, min_interval, airspace, estimator, EtaWindow() if window else None
        )
        return cls(
            commands_topic, repository, DeliveryCommandHandler(repository, tracking), tracking
        )

    def process(self, record: SourceRecord, now: datetime) -> list[Outgoing]:
        """Handle one record of the deliveries, delivery-commands or delivery-telemetry topic."""
        try:
            if record.topic == self.commands_topic:
                return self.commands.handle(decode_command(record.value), record.value, now)
            event = decode_event(record.value)
            if isinstance(event, TelemetryReported):
                return self.tracking.on_fix(event)
            if isinstance(event, DeliveryRequested):
                return [*self.commands.apply(event), *self._unpark(event)]
            if isinstance(event, DELIVERY_EVENT_TYPES):
                return self.commands.apply(event)
            raise UnexpectedRecordError(event.event_type)
        except REFUSALS as refusal:
            return [refused(record, "deliveries", refusal, now)]

    def _unpark(self, request: DeliveryRequested) -> list[Outgoing]:
        """Decide the commands that were waiting for this request, in arrival order.

        Each goes through `process` as a record of its own (partition -1: it was
        consumed earlier), so a refused one is dead-lettered alone.
        """
        key = request.delivery_id.encode()
        out: list[Outgoing] = []
        for offset, value in enumerate(self.repository.unpark(request.delivery_id)):
            parked = SourceRecord(self.commands_topic, -1, offset, key, value.encode())
            out.extend(self.process(parked, request.recorded_at))
        return out
