"""Every service's settings inherit the Kafka settings and read them with its own prefix."""

from __future__ import annotations

import pytest

from kafkaio.settings import KafkaSettings
from streams.settings import StreamsSettings
from tests.support.service_settings import SERVICES


@pytest.fixture(autouse=True)
def api_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """The API and the notifier refuse to start without their secrets; no Kafka setting set."""
    monkeypatch.setenv("DRONEFLEET_API_TOKEN_SECRET", "s" * 32)
    monkeypatch.setenv("DRONEFLEET_NOTIFIER_SIGNING_KEY", "k" * 32)
    for service in SERVICES:
        for name in ("KAFKA_BOOTSTRAP", "TOPIC_PREFIX", "PARTITIONS"):
            monkeypatch.delenv(f"DRONEFLEET_{service}_{name}", raising=False)


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_each_service_reads_the_kafka_settings_with_its_own_prefix(
    service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(f"DRONEFLEET_{service}_KAFKA_BOOTSTRAP", f"{service.lower()}:9092")
    monkeypatch.setenv(f"DRONEFLEET_{service}_TOPIC_PREFIX", f"{service.lower()}-")
    monkeypatch.setenv(f"DRONEFLEET_{service}_PARTITIONS", "6")
    for other in SERVICES:  # another service's variables are not this one's
        if other != service:
            monkeypatch.setenv(f"DRONEFLEET_{other}_PARTITIONS", "2")
    settings = SERVICES[service]()
    assert issubclass(SERVICES[service], KafkaSettings)
    assert settings.kafka_bootstrap == f"{service.lower()}:9092"
    assert settings.topic_prefix == f"{service.lower()}-"
    assert settings.partitions == 6
    assert settings.topics.telemetry.name == f"{service.lower()}-telemetry"
    assert settings.topics.telemetry.partitions == 6
    assert settings.topics.dispatch.partitions == 1  # single-owner topics stay single


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_the_defaults_are_the_local_stack_and_its_four_partitions(service: str) -> None:
    settings = SERVICES[service]()
    assert (settings.kafka_bootstrap, settings.topic_prefix) == ("localhost:29092", "")
    assert settings.topics.deliveries.partitions == 4


def test_a_partition_count_below_one_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRONEFLEET_STREAMS_PARTITIONS", "0")
    with pytest.raises(ValueError, match="greater than or equal to 1"):
        StreamsSettings()
