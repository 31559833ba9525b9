"""The worker's producer knows every changelog's partitions, whatever it sent first.

Found by `make chaos`: aiokafka tracks metadata for all topics only until a producer's
first send. When that send went to another topic, a table written with
`use_partitioner=True` could not place its changelog record (no metadata: TypeError) and
every table write of the worker failed until it restarted.
"""

from __future__ import annotations

import asyncio
import secrets

from contracts import Topics
from devstack.settings import StackSettings
from streams.runtime.changelogs import declare_changelogs
from streams.runtime.faust_bends import DronefleetApp


async def changelog_partition_after_another_send(bootstrap: str, other_topic: str) -> object:
    app = DronefleetApp(
        f"producer-metadata-{secrets.token_hex(3)}",
        broker=f"kafka://{bootstrap}",
        topic_partitions=4,
    )
    table = app.Table("fleet", default=int, partitions=4)
    await declare_changelogs({table.changelog_topic_name: 4}, bootstrap)
    producer = app.producer
    await producer.start()
    try:
        await producer.send_and_wait(
            other_topic, b"k", b"v", partition=None, timestamp=None, headers=None
        )
        return producer.key_partition(table.changelog_topic_name, b"drone-1").partition
    finally:
        await producer.stop()


def test_changelog_partitions_are_known_after_a_send_elsewhere(
    running_stack: StackSettings, topics: Topics
) -> None:
    partition = asyncio.run(
        changelog_partition_after_another_send(running_stack.kafka_bootstrap, topics.tracking.name)
    )

    assert partition in range(4)
