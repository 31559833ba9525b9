"""The stream workers' consumer group: its members and its committed offsets.

Used by `dronefleet-streams reset`: refuse while workers run, rewind to offset 0. What
the group has committed is read by `kafkaio.offsets.committed_offsets`, the lag
readers' reader too.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.protocol.admin import (
    DescribeGroupsRequest_v0,
    DescribeGroupsRequest_v1,
    DescribeGroupsRequest_v2,
)
from aiokafka.protocol.api import Request

from contracts import TopicSpec
from kafkaio.admin import admin_client
from kafkaio.connection import Broker, aiokafka_options


@dataclass(frozen=True, slots=True)
class GroupState:
    """What the broker's group coordinator says about a consumer group."""

    group: str
    state: str
    members: list[str]


class _DescribeGroups(
    Request[  # type: ignore[misc]  # aiokafka ships no type hints
        DescribeGroupsRequest_v0 | DescribeGroupsRequest_v1 | DescribeGroupsRequest_v2
    ]
):
    """DescribeGroups at versions 0-2.

    aiokafka 0.14 pairs version 3 of the request with version 2 of the response and
    fails to decode the broker's answer (Kafka 4 answers at version 3 when asked), so
    `AIOKafkaAdminClient.describe_consumer_groups` cannot be used; this caps the version.
    """

    API_KEY = 15

    def __init__(self, groups: list[str]) -> None:
        self._groups = groups

    def build(
        self,
        request_struct_class: type[
            DescribeGroupsRequest_v0 | DescribeGroupsRequest_v1 | DescribeGroupsRequest_v2
        ],
    ) -> DescribeGroupsRequest_v0 | DescribeGroupsRequest_v1 | DescribeGroupsRequest_v2:
        return request_struct_class(self._groups)


async def describe_group(bootstrap: Broker, group: str) -> GroupState:
    """The group's state ('Empty', 'Stable', 'Dead' when unknown, ...) and member ids."""
    async with admin_client(bootstrap) as admin:
        node = await admin.find_coordinator(group)
        response = await admin._send_request(_DescribeGroups([group]), node)
    (_error, group_id, state, _protocol_type, _protocol, members, *_rest) = response.groups[0]
    return GroupState(group_id, state, [member[0] for member in members])


async def wait_until_empty(bootstrap: Broker, group: str, timeout_s: float) -> GroupState:
    """Poll the group until it has no member (a killed worker leaves after its session)."""
    deadline = time.monotonic() + timeout_s
    while (described := await describe_group(bootstrap, group)).members:
        if time.monotonic() > deadline:
            break
        await asyncio.sleep(0.5)
    return described


def partitions_of(topics: list[TopicSpec]) -> list[TopicPartition]:
    """Every partition of `topics`."""
    return [TopicPartition(t.name, p) for t in topics for p in range(t.partitions)]


async def commit(bootstrap: Broker, group: str, offsets: dict[TopicPartition, int]) -> None:
    """Commit offsets for the group from outside it (the broker refuses while it has members)."""
    if not offsets:
        return
    consumer = AIOKafkaConsumer(
        **aiokafka_options(bootstrap), group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        consumer.assign(list(offsets))
        await consumer.commit(offsets)
    finally:
        await consumer.stop()


async def commit_zero(bootstrap: Broker, group: str, topics: list[TopicSpec]) -> int:
    """Commit offset 0 for the group on every partition of `topics`; return how many."""
    partitions = partitions_of(topics)
    await commit(bootstrap, group, dict.fromkeys(partitions, 0))
    return len(partitions)
