"""The Kafka settings every service shares: where the broker is, the topic layout.

Why one base class: the bootstrap address, the topic prefix and the partition count
must agree across the services of one platform (the simulator's telemetry is keyed to
the partitions the gate reads, the API's tracking consumer reads what the stages
wrote), yet each service reads them from its own environment (`DRONEFLEET_API_`,
`DRONEFLEET_STREAMS_`, ...), as each container gets its own. A service's settings
class inherits this one and sets its `env_prefix`; the fields then read
`<PREFIX>KAFKA_BOOTSTRAP`, `<PREFIX>TOPIC_PREFIX` and `<PREFIX>PARTITIONS`.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings

from contracts import Topics


class KafkaSettings(BaseSettings):
    """A service's broker and topic layout; subclass it with the service's env prefix."""

    kafka_bootstrap: str = "localhost:29092"
    """The bootstrap address (the local stack's broker by default)."""
    topic_prefix: str = ""
    """Put in front of every topic (and consumer group) name: several platforms, or
    several test runs, share one broker without sharing topics."""
    partitions: int = Field(default=4, ge=1)
    """Partitions of the keyed topics (telemetry, deliveries, tracking, ...), as the
    stack (`devstack`, `compose.yaml`) creates them: the unit of scale-out."""

    @property
    def topics(self) -> Topics:
        """The platform's topics with this prefix and partition count."""
        return Topics.with_prefix(self.topic_prefix, self.partitions)
