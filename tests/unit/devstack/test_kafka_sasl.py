"""The local stack's authenticated broker: its configuration and each service's user."""

from __future__ import annotations

from pathlib import Path

import pytest

from devstack.kafka import KafkaNode
from devstack.services import PlatformConfig
from devstack.settings import StackSettings
from kafkaio.acls import PRINCIPALS
from tests.support.service_settings import SERVICES


def sasl_stack(tmp_path: Path) -> StackSettings:
    return StackSettings(home=tmp_path, kafka_sasl=True, kafka_sasl_secret="s3cret")


def test_off_by_default_plaintext_and_no_users(tmp_path: Path) -> None:
    stack = StackSettings(home=tmp_path)
    assert not stack.kafka_sasl
    assert not stack.kafka.sasl
    listeners = KafkaNode(stack)._listeners()
    assert "PLAINTEXT://localhost:29092" in listeners
    assert "SASL" not in listeners and "authorizer" not in listeners
    env = PlatformConfig(stack=stack, database="db").environment()
    assert not any(name.endswith(("KAFKA_USERNAME", "KAFKA_PASSWORD")) for name in env)


def test_with_sasl_only_sasl_listeners_and_an_authorizer(tmp_path: Path) -> None:
    stack = sasl_stack(tmp_path)
    listeners = KafkaNode(stack)._listeners()
    assert "listeners=SASL_PLAINTEXT://localhost:29092,CONTROLLER://" in listeners
    assert "CONTROLLER:SASL_PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT" in listeners
    assert "PLAINTEXT:PLAINTEXT" not in listeners
    assert "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer" in (
        listeners
    )
    assert "super.users=User:admin\n" in listeners
    assert stack.kafka_password("admin").get_secret_value() in listeners
    assert stack.kafka.username == "admin" and stack.kafka.sasl_mechanism == "PLAIN"


def test_each_user_has_its_own_password_derived_from_the_secret(tmp_path: Path) -> None:
    stack = sasl_stack(tmp_path)
    passwords = {user: stack.kafka_password(user).get_secret_value() for user in PRINCIPALS}
    assert len(set(passwords.values())) == len(PRINCIPALS)
    other = StackSettings(home=tmp_path, kafka_sasl=True, kafka_sasl_secret="other")
    assert other.kafka_password("api") != stack.kafka_password("api")


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_each_service_the_stack_starts_logs_in_as_itself(
    service: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = sasl_stack(tmp_path)
    for name, value in PlatformConfig(stack=stack, database="db").environment().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DRONEFLEET_API_TOKEN_SECRET", "s" * 32)
    monkeypatch.setenv("DRONEFLEET_NOTIFIER_SIGNING_KEY", "k" * 32)
    conn = SERVICES[service]().kafka
    user = service.lower()
    assert user in PRINCIPALS
    assert (conn.security_protocol, conn.sasl_mechanism, conn.username) == (
        "SASL_PLAINTEXT",
        "SCRAM-SHA-512",
        user,
    )
    assert conn.password == stack.kafka_password(user)
