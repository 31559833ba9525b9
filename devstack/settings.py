"""Where the local stack lives and which ports it uses.

Non-default ports (29092, 25432, 29090 for Prometheus) so the stack never collides with a Kafka or a
PostgreSQL that a developer already runs. Override with DRONEFLEET_STACK_* variables.
"""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


class StackSettings(BaseSettings):
    """Settings of the local stack (env prefix DRONEFLEET_STACK_)."""

    model_config = SettingsConfigDict(env_prefix="DRONEFLEET_STACK_")

    home: Path = REPO_ROOT / ".stack"
    """Runtime state: KRaft storage, the PostgreSQL cluster, logs and pid files."""
    cache: Path = REPO_ROOT / ".cache"
    """Downloaded artifacts (the Kafka jars), kept across `down`."""
    kafka_version: str = "4.1.1"
    kafka_port: int = 29092
    kafka_controller_port: int = 29093
    kafka_heap: str = "768m"
    postgres_port: int = 25432
    postgres_user: str = "dronefleet"
    postgres_db: str = "dronefleet"
    start_timeout_s: float = 90.0
    prometheus: bool = True
    """Run a Prometheus scraping every service the demo and the tests start
    (`devstack.prometheus`); false: Kafka and PostgreSQL only."""
    prometheus_port: int = 29090
    prometheus_version: str = "v0.316.0"
    """The Go module version of github.com/prometheus/prometheus (Prometheus 3.x)."""
    prometheus_scrape_interval_s: float = 5.0
    """How often it scrapes and evaluates the alert rules: short, so that the alert
    tests see a rule fire within a minute or two."""
    prometheus_retention: str = "2d"

    @property
    def kafka_bootstrap(self) -> str:
        """The bootstrap address clients use."""
        return f"localhost:{self.kafka_port}"

    @property
    def postgres_dsn(self) -> str:
        """A libpq connection string for the stack's database."""
        return self.dsn_for(self.postgres_db)

    def dsn_for(self, database: str) -> str:
        """A libpq connection string for another database on the same server."""
        return f"postgresql://{self.postgres_user}@127.0.0.1:{self.postgres_port}/{database}"
