"""The Kafka settings every service shares: the broker, the service's user there, the topics.

Why one base class: the bootstrap address, the topic prefix and the partition count
must agree across the services of one platform (the simulator's telemetry is keyed to
the partitions the gate reads, the API's tracking consumer reads what the stages
wrote), yet each service reads them from its own environment (`DRONEFLEET_API_`,
`DRONEFLEET_STREAMS_`, ...), as each container gets its own. A service's settings
class inherits this one and sets its `env_prefix`; the fields then read
`<PREFIX>KAFKA_BOOTSTRAP`, `<PREFIX>TOPIC_PREFIX` and `<PREFIX>PARTITIONS`, and on a
broker with SASL `<PREFIX>KAFKA_USERNAME` and `<PREFIX>KAFKA_PASSWORD` (each service is
its own principal, allowed only its own topics and groups: `kafkaio.acls`).
"""

from __future__ import annotations

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings

from contracts import Topics
from kafkaio.connection import KafkaConnection, SaslMechanism, SecurityProtocol


class KafkaSettings(BaseSettings):
    """A service's broker and topic layout; subclass it with the service's env prefix."""

    kafka_bootstrap: str = "localhost:29092"
    """The bootstrap address (the local stack's broker by default)."""
    kafka_security_protocol: SecurityProtocol | None = None
    """PLAINTEXT, SASL_PLAINTEXT or SASL_SSL; unset: SASL_PLAINTEXT when a username is
    set, PLAINTEXT otherwise (the local stack's default broker)."""
    kafka_sasl_mechanism: SaslMechanism = "SCRAM-SHA-512"
    kafka_username: str | None = None
    """The service's principal on a broker with SASL (`kafkaio.acls.PRINCIPALS`)."""
    kafka_password: SecretStr | None = None
    topic_prefix: str = ""
    """Put in front of every topic (and consumer group) name: several platforms, or
    several test runs, share one broker without sharing topics."""
    partitions: int = Field(default=4, ge=1)
    """Partitions of the keyed topics (telemetry, deliveries, tracking, ...), as the
    stack (`devstack`, `compose.yaml`) creates them: the unit of scale-out."""

    @model_validator(mode="after")
    def _credentials_fit(self) -> KafkaSettings:
        """Refuse at start what would fail at the first request: SASL without credentials."""
        self.kafka  # noqa: B018 (builds the connection, which checks them)
        return self

    @property
    def kafka(self) -> KafkaConnection:
        """How this service reaches the broker: pass it wherever a client is made."""
        protocol = self.kafka_security_protocol or (
            "SASL_PLAINTEXT" if self.kafka_username else "PLAINTEXT"
        )
        return KafkaConnection(
            self.kafka_bootstrap,
            protocol,
            self.kafka_sasl_mechanism,
            self.kafka_username,
            self.kafka_password,
        )

    @property
    def topics(self) -> Topics:
        """The platform's topics with this prefix and partition count."""
        return Topics.with_prefix(self.topic_prefix, self.partitions)
