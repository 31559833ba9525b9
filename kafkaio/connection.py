"""How a client reaches the broker: its address and, on a secured broker, who it is.

Why a small frozen object instead of a bare `bootstrap` string: on a broker with SASL
every client (producer, consumer, admin client, Faust app, confluent-kafka consumer)
needs the same four more options, spelt differently by each library. A service's
settings (`kafkaio.settings.KafkaSettings.kafka`) build one `KafkaConnection`; the
helpers here turn it into each library's options, so no construction site spells the
security options again, and none can forget them.

Functions that took a `bootstrap: str` take a `Broker`: a bare address is a connection
without credentials (PLAINTEXT), which the benchmarks and the load harness keep using on
their private brokers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import SecretStr

SecurityProtocol = Literal["PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"]


@dataclass(frozen=True, slots=True)
class KafkaConnection:
    """A broker's address and the credentials to present there (none: PLAINTEXT)."""

    bootstrap: str
    security_protocol: SecurityProtocol = "PLAINTEXT"
    sasl_mechanism: SaslMechanism = "SCRAM-SHA-512"
    username: str | None = None
    password: SecretStr | None = None
    """A SecretStr: a connection logged or printed never shows it."""

    def __post_init__(self) -> None:
        if self.sasl and (not self.username or self.password is None):
            raise ValueError(
                f"security protocol {self.security_protocol} needs a username and a password"
            )

    def __str__(self) -> str:
        """The address (what error messages name), never the credentials."""
        return self.bootstrap

    @property
    def sasl(self) -> bool:
        """True when the client authenticates with SASL."""
        return self.security_protocol != "PLAINTEXT"

    def as_user(
        self,
        username: str,
        password: SecretStr | str,
        mechanism: SaslMechanism | None = None,
    ) -> KafkaConnection:
        """The same broker as another principal, over SASL (the stack's tools, the tests)."""
        secret = password if isinstance(password, SecretStr) else SecretStr(password)
        protocol: SecurityProtocol = self.security_protocol if self.sasl else "SASL_PLAINTEXT"
        return KafkaConnection(
            self.bootstrap, protocol, mechanism or self.sasl_mechanism, username, secret
        )


Broker = str | KafkaConnection
"""A bare bootstrap address (no credentials) or a full connection."""


def connection(broker: Broker) -> KafkaConnection:
    """`broker` as a connection (a bare address: PLAINTEXT, no credentials)."""
    return broker if isinstance(broker, KafkaConnection) else KafkaConnection(broker)


def aiokafka_options(broker: Broker) -> dict[str, Any]:
    """Keyword arguments for aiokafka's producer, consumer and admin client."""
    conn = connection(broker)
    options: dict[str, Any] = {"bootstrap_servers": conn.bootstrap}
    if conn.sasl:
        assert conn.password is not None  # checked in __post_init__
        options.update(
            security_protocol=conn.security_protocol,
            sasl_mechanism=conn.sasl_mechanism,
            sasl_plain_username=conn.username,
            sasl_plain_password=conn.password.get_secret_value(),
        )
        if conn.security_protocol == "SASL_SSL":
            from aiokafka.helpers import create_ssl_context

            options["ssl_context"] = create_ssl_context()
    return options


def confluent_options(broker: Broker) -> dict[str, Any]:
    """Configuration entries for a confluent-kafka (librdkafka) client."""
    conn = connection(broker)
    options: dict[str, Any] = {"bootstrap.servers": conn.bootstrap}
    if conn.sasl:
        assert conn.password is not None
        options.update(
            {
                "security.protocol": conn.security_protocol,
                "sasl.mechanisms": conn.sasl_mechanism,
                "sasl.username": conn.username,
                "sasl.password": conn.password.get_secret_value(),
            }
        )
    return options
