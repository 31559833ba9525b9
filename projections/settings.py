"""Settings of the projection sink (env prefix DRONEFLEET_PROJECTIONS_)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from kafkaio.settings import KafkaSettings
from runtime import LogSettings, ProbeSettings


class ProjectionsSettings(KafkaSettings, ProbeSettings, LogSettings):
    """One sink process's configuration (its probes and metrics: `projections.metrics`)."""

    model_config = SettingsConfigDict(env_prefix="DRONEFLEET_PROJECTIONS_")

    database_url: str = "postgresql://dronefleet@127.0.0.1:25432/dronefleet"
    projection: str = "core"
    batch_max_rows: int = 5000
    flush_interval_ms: int = 250
    reconnect_max_delay_s: float = 5.0
    # Materialized roll-ups (plain PostgreSQL) are refreshed at most this often; each
    # refresh re-aggregates its whole input, so this bounds the load it adds.
    rollup_refresh_interval_s: float = 30.0
    # Plain PostgreSQL's time partitions (projections.partitions): telemetry and tracking
    # are kept this long (whole hourly partitions are dropped), the per-minute roll-up
    # longer (it is ~60x smaller); partitions are created this far ahead, and the
    # maintenance that does both runs this often. TimescaleDB uses its own policies.
    retention_hours: float = 72.0
    rollup_retention_days: float = 30.0
    partitions_ahead_hours: float = 3.0
    maintenance_interval_s: float = 300.0
    # How the sink writes its rows (projections.insert_writer): `copy` (binary COPY, the
    # fast path) or `insert` (INSERT ... SELECT FROM unnest(arrays) ON CONFLICT, up to
    # `insert_rows_per_statement` rows a statement, and one connection for everything:
    # the roll-up refresh and the partition maintenance run on the writer's), for servers
    # without COPY or with one connection, such as the WASM TimescaleDB of CI.
    writer: Literal["copy", "insert"] = "copy"
    insert_rows_per_statement: int = Field(default=1000, ge=1)
