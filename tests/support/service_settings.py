"""Every service's settings class by its environment name (`DRONEFLEET_<NAME>_*`)."""

from __future__ import annotations

from api.settings import ApiSettings
from dashboard.settings import DashboardSettings
from kafkaio.settings import KafkaSettings
from notifier.settings import NotifierSettings
from projections.settings import ProjectionsSettings
from simulator.settings import SimulatorSettings
from streams.settings import StreamsSettings

SERVICES: dict[str, type[KafkaSettings]] = {
    "API": ApiSettings,
    "DASHBOARD": DashboardSettings,
    "NOTIFIER": NotifierSettings,
    "PROJECTIONS": ProjectionsSettings,
    "SIMULATOR": SimulatorSettings,
    "STREAMS": StreamsSettings,
}
