"""Settings of the notifier (env prefix DRONEFLEET_NOTIFIER_). Its signing key has no default."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from kafkaio.settings import KafkaSettings
from runtime import LogSettings, ProbeSettings

HOURS_OF_RETRIES = (
    5.0,
    30.0,
    120.0,
    600.0,
    1800.0,
    3600.0,
    2 * 3600.0,
    4 * 3600.0,
    8 * 3600.0,
    8 * 3600.0,
)
"""The default waits before each retry: 5 s to 8 h, about 24 h in all (Standard Webhooks'
guidance, and what Stripe and Svix do: a receiver down for a day loses nothing)."""


class NotifierSettings(KafkaSettings, ProbeSettings, LogSettings):
    """One notifier process's configuration."""

    model_config = SettingsConfigDict(env_prefix="DRONEFLEET_NOTIFIER_")

    database_url: str = "postgresql://dronefleet@127.0.0.1:25432/dronefleet"
    signing_key: SecretStr = Field(min_length=32)
    """Derives every endpoint's secret (`contracts.webhooks.endpoint_secret`); the API's
    `DRONEFLEET_API_WEBHOOK_SIGNING_KEY` must be the same. Required."""
    retry_schedule_s: tuple[float, ...] = Field(default=HOURS_OF_RETRIES, min_length=1)
    """Wait before each retry (before jitter); after the last, the message is dead-lettered."""
    retry_jitter: float = Field(default=0.2, ge=0, le=1)
    """Each wait is drawn uniformly within +/- this fraction, so the retries of many
    messages that failed together (a receiver's outage) do not all come back at once."""
    pause_after_failures: int = Field(default=5, ge=1)
    """An endpoint failing this many times in a row is paused: nothing is sent to it..."""
    pause_s: float = Field(default=60.0, gt=0)
    """...for this long; then one try at a time probes it. Paused messages keep their
    place and their retries (waiting is not failing)."""
    eta_change_s: float = Field(default=120.0, ge=0)
    """An ETA moving by more than this (from the last one sent) is a `delivery.eta_changed`."""
    connect_timeout_s: float = Field(default=3.0, gt=0)
    request_timeout_s: float = Field(default=10.0, gt=0)
    """The longest one attempt may take, connection and answer included."""
    response_max_bytes: int = Field(default=4096, ge=0)
    """What is read of a receiver's answer (kept with the attempt); the rest is not read."""
    per_endpoint_concurrency: int = Field(default=32, ge=1)
    """Posts in flight to one endpoint at most: a slow receiver holds these, not others'.
    32 because one endpoint may take a whole platform's traffic: at the end-to-end
    benchmark's rate (200 events/s, one business) 8 fell behind by seconds and 32 kept
    the p99 at 0.23 s (BENCHMARKS.md, "Webhooks")."""
    max_in_flight: int = Field(default=512, ge=1)
    """Posts in flight in all: room for 16 endpoints hanging at once with others served."""
    allow_private_targets: bool = False
    """Post to http and to private or loopback addresses too (a local receiver: the demo,
    the tests). Link-local addresses (cloud metadata) stay refused."""
    batch_max_records: int = Field(default=500, ge=1)
    poll_interval_s: float = Field(default=0.5, gt=0)
    """How often the dispatcher looks for due messages when nothing new woke it."""
    reconnect_max_delay_s: float = Field(default=5.0, gt=0)
    retention_s: float = Field(default=7 * 86_400.0, gt=0)
    """Delivered messages and their attempts are kept this long after their delivery (the
    business reads them over the API), then deleted. Pending, dead-lettered and dropped
    messages are never deleted, nor their attempts."""
    retention_interval_s: float = Field(default=600.0, gt=0)
    """How often the notifier deletes what is past retention."""
    retention_batch: int = Field(default=1000, ge=1)
    """Messages deleted per statement (statement after statement until none is left), so
    a first run on a large outbox holds no lock for long."""
    database_connections: int = Field(default=16, ge=2)
    """The pool's size: the consumer's batch writes, the outbox reads and every attempt's
    record share it, so it bounds the posts recorded at once."""
