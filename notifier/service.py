"""The notifier's composition root: `bootstrap(settings)` builds it, `run()` runs it.

Two loops in one process: the consumer (the group `<prefix>notifier` over the
businesses, deliveries and tracking topics) folds records into the outbox with its
offsets, a batch per transaction; the dispatcher posts what is due. The database holds
the position: on assignment each partition resumes at its stored offset (from the
beginning when there is none), and the offsets are committed to Kafka afterwards too,
for the lag tools only.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import timedelta

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener
from aiokafka.structs import TopicPartition
from psycopg_pool import AsyncConnectionPool

from contracts import DecodeError, decode_event
from notifier.dispatcher import Dispatcher
from notifier.metrics import NotifierMetrics
from notifier.routing import Router, Writes
from notifier.schema import ensure_schema
from notifier.sender import Sender
from notifier.settings import NotifierSettings
from notifier.store import Store

log = logging.getLogger(__name__)


def consumed_topics(settings: NotifierSettings) -> list[str]:
    """The topics the notifier reads."""
    topics = settings.topics
    return [topics.businesses.name, topics.deliveries.name, topics.tracking.name]


class _ResumeAtStoredOffsets(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, notifier: Notifier) -> None:
        self.notifier = notifier

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        """Nothing to do: every batch is written before the next is read."""

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        """Seek every partition to its stored offset, or to its beginning."""
        consumer = self.notifier.consumer
        assert consumer is not None
        stored = await self.notifier.store.offsets(assigned)
        for tp in assigned:
            if tp in stored:
                consumer.seek(tp, stored[tp])
            else:
                await consumer.seek_to_beginning(tp)
        log.info("assigned %d partitions, %d with a stored offset", len(assigned), len(stored))


@dataclass
class Notifier:
    """The process's parts."""

    settings: NotifierSettings
    pool: AsyncConnectionPool
    store: Store
    sender: Sender
    dispatcher: Dispatcher
    metrics: NotifierMetrics
    consumer: AIOKafkaConsumer | None = None
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    undecodable: int = 0

    def stop(self) -> None:
        """Finish the current batch and the posts in flight, then return from `run`."""
        self.stopping.set()

    async def run(self) -> None:
        """Consume and dispatch until `stop()`."""
        await self.pool.open(wait=True)
        endpoints, owners = await self.store.load()
        router = Router(timedelta(seconds=self.settings.eta_change_s), endpoints, owners)
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.kafka_bootstrap,
            group_id=f"{self.settings.topic_prefix}notifier",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        await self.consumer.start()
        self.consumer.subscribe(
            consumed_topics(self.settings), listener=_ResumeAtStoredOffsets(self)
        )
        dispatching = asyncio.create_task(self.dispatcher.run(self.stopping))
        try:
            while not self.stopping.is_set():
                batch = await self.consumer.getmany(
                    timeout_ms=200, max_records=self.settings.batch_max_records
                )
                if batch:
                    await self._fold(router, batch)
        finally:
            self.stopping.set()
            await dispatching
            await self.consumer.stop()
            await self.sender.close()
            await self.pool.close()

    async def _fold(self, router: Router, batch: dict[TopicPartition, list[object]]) -> None:
        writes = Writes()
        offsets: dict[TopicPartition, int] = {}
        for tp, records in batch.items():
            for record in records:
                value = getattr(record, "value", None)
                offsets[tp] = int(getattr(record, "offset")) + 1  # noqa: B009
                if value is None:
                    continue
                try:
                    event = decode_event(value)
                except DecodeError:
                    self.undecodable += 1  # the stream processors dead-letter what is theirs
                    continue
                router.apply(event, writes)
        try:
            await self.store.write_batch(writes, offsets)
        except Exception:
            # Not written: the fold in memory is ahead of the database. Start over from
            # what the database holds (the process's supervisor restarts it).
            log.exception("writing a batch failed; stopping so a restart resumes from the store")
            self.stop()
            raise
        self.metrics.queued.inc(len(writes.messages))
        if writes.messages or writes.redeliveries or writes.endpoints:
            self.dispatcher.wake()
        assert self.consumer is not None
        try:
            await self.consumer.commit(offsets)
        except Exception as error:  # a rebalance under way: the stored offsets hold it
            log.info("offset commit skipped (%s); the database's offsets are authoritative", error)


def bootstrap(settings: NotifierSettings) -> Notifier:
    """Build the notifier's parts (its schema is created first)."""
    ensure_schema(settings.database_url)
    pool = AsyncConnectionPool(
        settings.database_url,
        min_size=2,
        max_size=settings.database_connections,
        open=False,
        # A commit lost to a database crash is lost with everything after it (the WAL's
        # order), offsets included: the log is read again and the posts repeat, with the
        # same ids. At least once holds; not waiting for each flush is what it buys.
        kwargs={"options": "-c synchronous_commit=off", "autocommit": True},
    )
    store = Store(pool)
    sender = Sender(settings)
    metrics = NotifierMetrics()
    dispatcher = Dispatcher(settings, store, sender, metrics)
    return Notifier(settings, pool, store, sender, dispatcher, metrics)
