"""The platform's processes are told one Kafka layout: bootstrap, prefix, partitions."""

from __future__ import annotations

import pytest

from devstack.services import KAFKA_SERVICES, PlatformConfig
from devstack.settings import StackSettings
from tests.support.service_settings import SERVICES


def test_every_kafka_service_is_named() -> None:
    assert sorted(KAFKA_SERVICES) == sorted(SERVICES)


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_each_service_reads_the_platforms_kafka_layout(
    service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = PlatformConfig(
        stack=StackSettings(), database="somedb", topic_prefix="p-", partitions=6
    )
    for name, value in config.environment().items():
        monkeypatch.setenv(name, value)
    settings = SERVICES[service]()
    assert settings.kafka_bootstrap == config.stack.kafka_bootstrap
    assert settings.topics.tracking.name == "p-tracking"
    assert settings.topics.tracking.partitions == 6
