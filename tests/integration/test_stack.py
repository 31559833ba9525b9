"""The local stack: healthy, idempotent, and the topics as the contracts define them."""

from __future__ import annotations

import asyncio

from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from contracts import Topics
from devstack import stack
from devstack.settings import StackSettings
from kafkaio.admin import admin_client


def test_status_is_healthy(running_stack: StackSettings) -> None:
    current = stack.status(running_stack)
    assert current.kafka_healthy and current.postgres_healthy


def test_second_up_is_harmless(running_stack: StackSettings, topics: Topics) -> None:
    again = stack.up(running_stack, topics)
    assert not again.started_kafka and not again.started_postgres
    assert again.created_topics == []


def test_topics_have_their_partitions_and_retention(
    running_stack: StackSettings, topics: Topics
) -> None:
    async def describe() -> tuple[dict[str, int], dict[str, str]]:
        async with admin_client(running_stack.kafka_bootstrap) as admin:
            described = await admin.describe_topics([spec.name for spec in topics.all()])
            partitions = {t["topic"]: len(t["partitions"]) for t in described}
            configs = await admin.describe_configs(
                [ConfigResource(ConfigResourceType.TOPIC, spec.name) for spec in topics.all()]
            )
            retention = {}
            for response in configs:
                for resource in response.resources:
                    name = resource[3]
                    for entry in resource[4]:
                        if entry[0] == "retention.ms":
                            retention[name] = entry[1]
            return partitions, retention

    partitions, retention = asyncio.run(describe())
    for spec in topics.all():
        assert partitions[spec.name] == spec.partitions, spec.name
        assert retention[spec.name] == str(spec.retention_ms), spec.name
    assert retention[topics.deliveries.name] == "-1"  # the system of record is kept forever
