"""Where the local stack lives and which ports it uses.

Non-default ports (29092, 25432, 29090 for Prometheus) so the stack never collides with a Kafka or a
PostgreSQL that a developer already runs. Override with DRONEFLEET_STACK_* variables.
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from kafkaio.acls import ADMIN
from kafkaio.connection import KafkaConnection, SaslMechanism

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
    kafka_sasl: bool = False
    """An authenticated broker: SASL only (PLAIN for the super user `admin`, SCRAM-SHA-512
    for one user per service) and the ACLs of `kafkaio.acls`; the demo and the services
    the stack starts get their own user. Off: PLAINTEXT, anyone may do anything."""
    kafka_sasl_secret: SecretStr = SecretStr("dronefleet-local")
    """What the local users' passwords are derived from (`kafka_password`): a documented
    local default, never a deployment's (Compose and Kubernetes take one per user)."""
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
    def kafka(self) -> KafkaConnection:
        """The stack's own connection: as the super user when `kafka_sasl` is on."""
        return self.kafka_as(ADMIN)

    def kafka_as(self, user: str) -> KafkaConnection:
        """`user`'s connection to the stack's broker (PLAINTEXT, no user, when SASL is off).

        The super user logs in with PLAIN (its password is in the broker's configuration,
        see `devstack.kafka`), every other user with SCRAM-SHA-512.
        """
        plain = KafkaConnection(self.kafka_bootstrap)
        if not self.kafka_sasl:
            return plain
        mechanism: SaslMechanism = "PLAIN" if user == ADMIN else "SCRAM-SHA-512"
        return plain.as_user(user, self.kafka_password(user), mechanism)

    def kafka_password(self, user: str) -> SecretStr:
        """`user`'s local password: HMAC-SHA256 of the name under `kafka_sasl_secret`.

        Derived rather than stored, so that the stack, the demo's services and the tests
        agree on every user's password without a file of them; distinct per user, so
        one service's password does not open another's topics.
        """
        key = self.kafka_sasl_secret.get_secret_value().encode()
        return SecretStr(hmac.new(key, user.encode(), hashlib.sha256).hexdigest()[:32])

    @property
    def postgres_dsn(self) -> str:
        """A libpq connection string for the stack's database."""
        return self.dsn_for(self.postgres_db)

    def dsn_for(self, database: str) -> str:
        """A libpq connection string for another database on the same server."""
        return f"postgresql://{self.postgres_user}@127.0.0.1:{self.postgres_port}/{database}"
