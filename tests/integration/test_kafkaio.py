"""The shared Kafka helpers against the real broker: admin client, ranges, offsets.

Each module's topics are its own (a fresh prefix), so the end offsets asserted here
are exactly what the test produced.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from devstack.settings import StackSettings
from kafkaio.admin import admin_client, create_missing_topics
from kafkaio.compacted import read_compacted
from kafkaio.last_value import follow_values
from kafkaio.log_range import read_range, read_to_end
from kafkaio.offsets import committed_offsets, end_offsets, group_offsets

PARTITIONS = 3


@pytest.fixture(scope="module")
def bootstrap(running_stack: StackSettings) -> str:
    return running_stack.kafka_bootstrap


@pytest.fixture(scope="module")
def prefix() -> str:
    return f"k{secrets.token_hex(4)}-"


async def new_topic(bootstrap: str, name: str, partitions: int = PARTITIONS) -> str:
    async with admin_client(bootstrap) as admin:
        await create_missing_topics(admin, [NewTopic(name, partitions, 1)])
    return name


async def produce(
    bootstrap: str, topic: str, records: list[tuple[int, bytes, bytes | None]], **options: object
) -> None:
    """Send (partition, key, value) records; with `transactional_id`, in one transaction."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", **options)
    await producer.start()
    try:
        if "transactional_id" in options:
            async with producer.transaction():
                for partition, key, value in records:
                    await producer.send(topic, value, key=key, partition=partition)
        else:
            for partition, key, value in records:
                await producer.send_and_wait(topic, value, key=key, partition=partition)
    finally:
        await producer.stop()


async def marker_written(bootstrap: str, topic: str, partition: int, end: int) -> None:
    """Wait until the partition's end offset counts the transaction's commit marker.

    The broker answers the commit once the transaction log says so and writes the
    markers into the partitions a moment later: an end offset asked at once can still
    be the one before the marker.
    """
    for _ in range(300):
        if (await end_offsets(bootstrap, [(topic, partition)]))[(topic, partition)] >= end:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{topic}[{partition}] has no commit marker after 30 s")


async def listed(admin: AIOKafkaAdminClient, names: list[str]) -> None:
    """Wait until the broker lists the topics (a new topic is listed a moment later)."""
    for _ in range(300):
        if set(names) <= set(await admin.list_topics()):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{names} still not listed after 30 s")


async def test_the_admin_client_is_closed_after_the_block(bootstrap: str, prefix: str) -> None:
    async with admin_client(bootstrap, request_timeout_ms=5000) as admin:
        assert isinstance(await admin.list_topics(), list)
        assert not getattr(admin, "_closed", False)
    assert admin._closed


async def test_the_admin_client_is_closed_when_the_block_raises(bootstrap: str) -> None:
    with pytest.raises(LookupError):
        async with admin_client(bootstrap) as admin:
            raise LookupError("the question failed")
    assert admin._closed


async def test_create_missing_topics_creates_each_once(bootstrap: str, prefix: str) -> None:
    names = [f"{prefix}created-a", f"{prefix}created-b"]
    async with admin_client(bootstrap) as admin:
        first = await create_missing_topics(admin, [NewTopic(names[0], 2, 1)])
        await listed(admin, names[:1])
        second = await create_missing_topics(admin, [NewTopic(n, 2, 1) for n in names])
        await listed(admin, names)
        again = await create_missing_topics(admin, [NewTopic(n, 2, 1) for n in names])
        described = await admin.describe_topics(names)
    assert (first, second, again) == ([names[0]], [names[1]], [])
    assert {t["topic"]: len(t["partitions"]) for t in described} == dict.fromkeys(names, 2)


async def test_read_to_end_stops_at_the_ends_seen_at_the_start(bootstrap: str, prefix: str) -> None:
    topic = await new_topic(bootstrap, f"{prefix}range")
    before = [(i % PARTITIONS, f"k{i}".encode(), f"v{i}".encode()) for i in range(30)]
    await produce(bootstrap, topic, before)
    # Partition 2 ends with a transaction's commit marker: an offset no record is given at.
    await produce(bootstrap, topic, [(2, b"tx", b"in a transaction")], transactional_id=topic)
    await marker_written(bootstrap, topic, 2, end=10 + 1 + 1)
    partitions = [TopicPartition(topic, p) for p in range(PARTITIONS)]
    read: list[tuple[int, bytes | None]] = []
    reached: dict[TopicPartition, int] = {}

    async def read_all() -> None:
        late = False
        async for batch in read_to_end(bootstrap, partitions, max_records=4):
            read.extend((r.partition, r.value) for r in batch.records)
            reached.update(batch.reached)
            if not late:  # written after the start: not part of the snapshot
                await produce(bootstrap, topic, [(p, b"late", b"late") for p in range(3)])
                late = True

    await asyncio.wait_for(read_all(), timeout=60)
    expected = [(p, v) for p, _, v in before] + [(2, b"in a transaction")]
    assert sorted(read) == sorted(expected)
    ends = await end_offsets(bootstrap, [(topic, p) for p in range(PARTITIONS)])
    assert ends[(topic, 2)] == 10 + 1 + 1 + 1  # ten, the transaction's record and marker, late
    assert reached == {TopicPartition(topic, p): ends[(topic, p)] - 1 for p in range(PARTITIONS)}


async def test_a_partition_ending_with_a_commit_marker_is_read_to_its_end(
    bootstrap: str, prefix: str
) -> None:
    topic = await new_topic(bootstrap, f"{prefix}marker", partitions=1)
    await produce(bootstrap, topic, [(0, b"k", b"1"), (0, b"k", b"2")], transactional_id=topic)
    await marker_written(bootstrap, topic, 0, end=3)
    partition = TopicPartition(topic, 0)
    assert await end_offsets(bootstrap, [(topic, 0)]) == {(topic, 0): 3}  # two and the marker

    async def read_all() -> list[int]:
        return [r.offset async for b in read_to_end(bootstrap, [partition]) for r in b.records]

    assert await asyncio.wait_for(read_all(), timeout=30) == [0, 1]


async def test_read_range_reads_from_the_starts_given(bootstrap: str, prefix: str) -> None:
    topic = await new_topic(bootstrap, f"{prefix}starts", partitions=2)
    await produce(bootstrap, topic, [(p, b"k", str(i).encode()) for i in range(10) for p in (0, 1)])
    zero, one = TopicPartition(topic, 0), TopicPartition(topic, 1)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        batches = [
            batch
            async for batch in read_range(
                consumer, [zero, one], {zero: 7, one: 10}, {zero: 3, one: 10}
            )
        ]
    finally:
        await consumer.stop()
    assert [(r.partition, r.offset) for b in batches for r in b.records] == [
        (0, 3),
        (0, 4),
        (0, 5),
        (0, 6),
    ]
    assert {tp: o for b in batches for tp, o in b.reached.items()} == {zero: 7}


async def test_read_compacted_keeps_the_last_value_and_drops_tombstones(
    bootstrap: str, prefix: str
) -> None:
    topic = await new_topic(bootstrap, f"{prefix}compacted", partitions=1)
    await produce(
        bootstrap, topic, [(0, b"a", b"1"), (0, b"b", b"1"), (0, b"a", b"2"), (0, b"b", None)]
    )
    partition = TopicPartition(topic, 0)
    tables = await asyncio.wait_for(read_compacted(bootstrap, [partition]), timeout=60)
    assert tables == {partition: {b"a": b"2"}}


async def test_committed_offsets_are_what_the_group_committed(bootstrap: str, prefix: str) -> None:
    topic = await new_topic(bootstrap, f"{prefix}committed")
    other = await new_topic(bootstrap, f"{prefix}committed-other", partitions=1)
    await produce(bootstrap, topic, [(p, b"k", b"v") for p in range(PARTITIONS) for _ in range(5)])
    group = f"{prefix}group"
    assert await committed_offsets(bootstrap, group) == {}
    assert await group_offsets(bootstrap, group) == ({}, {})
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group)
    await consumer.start()
    try:
        wanted = {TopicPartition(topic, 0): 2, TopicPartition(topic, 2): 5}
        consumer.assign([*wanted, TopicPartition(other, 0)])
        await consumer.commit({**wanted, TopicPartition(other, 0): 0})
    finally:
        await consumer.stop()
    everything = {(topic, 0): 2, (topic, 2): 5, (other, 0): 0}
    assert await committed_offsets(bootstrap, group) == everything
    assert await committed_offsets(bootstrap, group, [topic]) == {(topic, 0): 2, (topic, 2): 5}
    committed, ends = await group_offsets(bootstrap, group, timeout_ms=10_000)
    assert committed == everything
    assert ends == {(topic, 0): 5, (topic, 2): 5, (other, 0): 0}


async def test_a_topic_that_does_not_exist_yet_is_waited_for_quietly_then_followed(
    bootstrap: str, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    topic = f"{prefix}later"
    values: list[bytes] = []
    caught_up = asyncio.Event()
    following = asyncio.create_task(follow_values(bootstrap, topic, values.append, caught_up))
    try:
        with caplog.at_level(logging.WARNING):
            await asyncio.sleep(3)
        missing = [r for r in caplog.records if topic in r.getMessage()]
        assert not caught_up.is_set()
        assert 1 <= len(missing) <= 3, f"{len(missing)} complaints in 3 s: it spins"
        await new_topic(bootstrap, topic, partitions=1)
        await produce(bootstrap, topic, [(0, b"k", b"v1")])
        for _ in range(200):
            if values:
                break
            await asyncio.sleep(0.1)
        assert values == [b"v1"]
        assert caught_up.is_set()
    finally:
        following.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await following
