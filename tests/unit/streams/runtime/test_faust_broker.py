"""The Faust app's broker options from one connection (`streams.runtime.faust_broker`)."""

from __future__ import annotations

from kafkaio.connection import KafkaConnection
from streams.runtime.faust_broker import faust_options


def test_a_bare_address_is_a_plaintext_broker_url() -> None:
    assert faust_options("h:1") == {"broker": "kafka://h:1"}


def test_credentials_reach_the_faust_app() -> None:
    conn = KafkaConnection("h:1").as_user("simulator", "s3cret")
    credentials = faust_options(conn)["broker_credentials"]
    assert (credentials.username, credentials.password) == ("simulator", "s3cret")
    assert credentials.mechanism.value == "SCRAM-SHA-512"
