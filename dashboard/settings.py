"""Settings of the operators' dashboard (env prefix DRONEFLEET_DASHBOARD_)."""

from __future__ import annotations

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import SettingsConfigDict

from kafkaio.settings import KafkaSettings


class DashboardSettings(KafkaSettings):
    """Where the dashboard reads from, how often it refreshes, where it listens.

    Built once per script run by `dashboard.app` (the composition root) and passed down.
    """

    model_config = SettingsConfigDict(env_prefix="DRONEFLEET_DASHBOARD_", populate_by_name=True)

    database_url: str = "postgresql://dronefleet@127.0.0.1:25432/dronefleet"
    refresh_s: float = Field(default=5.0, gt=0)
    """Seconds between refreshes of the live panels; also the queries' cache lifetime,
    so however many operators watch, each panel queries the database once per period."""
    consumer_groups: list[str] = Field(
        default_factory=lambda: [
            "dronefleet-streams",
            "dronefleet-streams-gate",
            "dronefleet-streams-deliveries",
            "projections-core",
        ]
    )
    """Consumer groups whose lag is shown (the stream workers, the projection sink);
    `topic_prefix` is put in front of each, as the services do."""
    in_flight_shown: int = Field(default=200, gt=0, le=5_000)
    """How many deliveries in flight the table and the map show (the soonest by ETA);
    the panel's title counts them all."""
    lag_refresh_s: float = Field(default=15.0, gt=0)
    """Kafka's admin API is slower to ask than the database: ask it less often."""
    kafka_timeout_s: float = Field(default=5.0, gt=0)
    map_style: str | None = None
    """A MapLibre style URL for the maps' base map (e.g. your own tile server). None: a
    plain background drawn in the browser, so the maps need no CDN and no token."""
    operator_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "DRONEFLEET_DASHBOARD_OPERATOR_KEY", "DRONEFLEET_API_OPERATOR_KEY"
        ),
    )
    """The operators' key, which the sign-in asks for (`dashboard.auth`). Read from
    `DRONEFLEET_DASHBOARD_OPERATOR_KEY`, else the API's `DRONEFLEET_API_OPERATOR_KEY` (one
    environment for the whole platform, as the demo gives). Unset: the dashboard shows
    nothing."""
    sign_in_pause_s: float = Field(default=0.5, ge=0)
    """The pause after each wrong key, times the session's wrong keys so far (up to 5 s)."""
    port: int = 8501
    address: str = "127.0.0.1"

    @property
    def groups(self) -> list[str]:
        """The consumer groups with the topic prefix applied."""
        return [f"{self.topic_prefix}{group}" for group in self.consumer_groups]
