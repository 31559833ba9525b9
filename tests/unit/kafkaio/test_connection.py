"""Credentials in one place: each client library's options from one connection."""

from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError
from pydantic_settings import SettingsConfigDict

from kafkaio.connection import KafkaConnection, aiokafka_options, confluent_options
from kafkaio.settings import KafkaSettings


class Settings(KafkaSettings):
    model_config = SettingsConfigDict(env_prefix="DRONEFLEET_TESTSVC_")


def test_a_bare_address_is_plaintext_for_every_library() -> None:
    assert aiokafka_options("h:1") == {"bootstrap_servers": "h:1"}
    assert confluent_options("h:1") == {"bootstrap.servers": "h:1"}


def test_credentials_reach_every_library_and_never_a_log() -> None:
    conn = KafkaConnection("h:1").as_user("simulator", "s3cret")
    assert aiokafka_options(conn) == {
        "bootstrap_servers": "h:1",
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "simulator",
        "sasl_plain_password": "s3cret",
    }
    assert confluent_options(conn)["sasl.password"] == "s3cret"
    assert confluent_options(conn)["sasl.mechanisms"] == "SCRAM-SHA-512"
    assert "s3cret" not in repr(conn)
    assert str(conn) == "h:1"


def test_sasl_without_a_password_is_refused() -> None:
    with pytest.raises(ValueError, match="username and a password"):
        KafkaConnection("h:1", "SASL_PLAINTEXT", username="x")


def test_settings_read_the_credentials_from_the_service_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DRONEFLEET_TESTSVC_KAFKA_USERNAME", "api")
    monkeypatch.setenv("DRONEFLEET_TESTSVC_KAFKA_PASSWORD", "pw")
    conn = Settings().kafka
    assert (conn.security_protocol, conn.username, conn.password) == (
        "SASL_PLAINTEXT",
        "api",
        SecretStr("pw"),
    )
    monkeypatch.delenv("DRONEFLEET_TESTSVC_KAFKA_PASSWORD")
    with pytest.raises(ValidationError, match="username and a password"):
        Settings()


def test_without_credentials_settings_stay_plaintext(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("USERNAME", "PASSWORD", "SECURITY_PROTOCOL"):
        monkeypatch.delenv(f"DRONEFLEET_TESTSVC_KAFKA_{name}", raising=False)
    assert Settings().kafka == KafkaConnection("localhost:29092")
