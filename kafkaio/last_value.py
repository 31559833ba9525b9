"""Following the last record of a one-partition topic: a small setting kept in the log.

The airspace (`contracts.AirspacePublished` on the compacted `airspace` topic) is one
record that every service needs at start and whose later versions it must follow. Each
reader reads the partition from its first kept offset (compaction keeps it small) and
then keeps reading: every value is handed over in order, so the last one handed over is
the one in force. `caught_up` is set once the reader has reached the end offset seen at
its start, so a service can wait for what is already published before it answers.
No consumer group: nothing is committed and every replica reads the whole topic.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from kafkaio.connection import Broker, aiokafka_options
from kafkaio.log_range import read_to_end

log = logging.getLogger(__name__)


async def last_value(bootstrap: Broker, topic: str) -> bytes | None:
    """The value of the partition's last record up to its end now (None: empty topic)."""
    last: bytes | None = None
    async for batch in read_to_end(bootstrap, [TopicPartition(topic, 0)]):
        for record in batch.records:
            if record.value is not None:
                last = record.value
    return last


async def follow_values(
    bootstrap: Broker,
    topic: str,
    on_value: Callable[[bytes], None],
    caught_up: asyncio.Event,
    *,
    poll_timeout_ms: int = 1000,
) -> None:
    """Hand every value of partition 0 to `on_value`, in order, until cancelled.

    `caught_up` is set once the values up to the end offset seen at the start were
    handed over (at once for an empty topic). Tombstones (no value) are skipped.
    """
    consumer = AIOKafkaConsumer(**aiokafka_options(bootstrap), enable_auto_commit=False)
    await consumer.start()
    try:
        await _until_listed(consumer, topic)
        partition = TopicPartition(topic, 0)
        consumer.assign([partition])
        await consumer.seek_to_beginning(partition)
        end = (await consumer.end_offsets([partition]))[partition]
        while True:
            if not caught_up.is_set() and await consumer.position(partition) >= end:
                caught_up.set()
            fetched = await consumer.getmany(partition, timeout_ms=poll_timeout_ms)
            for record in fetched.get(partition, []):
                if record.value is not None:
                    on_value(record.value)
    finally:
        await consumer.stop()


FOLLOW_RETRY_MAX_S = 10.0
"""The longest pause before `follow_retrying` tries the broker again."""


async def follow_retrying(
    bootstrap: Broker,
    topic: str,
    on_value: Callable[[bytes], None],
    caught_up: asyncio.Event,
    *,
    what: str,
) -> None:
    """`follow_values` until cancelled, from the first record again after a broker error.

    A service started while the broker is away must still learn the value once the
    broker is back (the API would otherwise answer 503 for good); reading the topic again
    from its first record changes nothing, the last record wins. `what` names the value
    in the log.
    """
    delay = 0.5
    while True:
        try:
            await follow_values(bootstrap, topic, on_value, caught_up)
        except KafkaError as error:
            log.warning("following %s failed (%s); again in %.1f s", what, error, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, FOLLOW_RETRY_MAX_S)


MISSING_TOPIC_RETRY_MAX_S = 10.0
"""The longest wait between two looks for a topic that does not exist yet."""


async def _until_listed(consumer: AIOKafkaConsumer, topic: str) -> None:
    """Wait, backing off, until the broker lists `topic`.

    Assigned a partition of a topic the broker does not have, aiokafka asks for metadata
    again at once, over and over: an API started before its topics were created (a
    Kubernetes pod ahead of the topics Job, a benchmark's prefix without them) spent half
    a core on it, logging an error each time. Here it asks at most every few seconds,
    and says so once.
    """
    delay = 0.2
    warned = False
    while topic not in await consumer.topics():
        if not warned:
            log.warning("topic %s does not exist yet; waiting for it", topic)
            warned = True
        await asyncio.sleep(delay)
        delay = min(delay * 2, MISSING_TOPIC_RETRY_MAX_S)
