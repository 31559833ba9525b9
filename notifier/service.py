"""The notifier's composition root: `bootstrap(settings)` builds it, `run()` runs it.

Two loops in one process: the consumer (the group `<prefix>notifier` over the
businesses, deliveries and tracking topics) folds records into the outbox with its
offsets, a batch per transaction; the dispatcher posts what is due. The database holds
the position: at start the notifier takes every partition and resumes each at its stored
offset (from the beginning when there is none); the offsets are committed to the group
in Kafka afterwards too, for the lag tools only.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import timedelta

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition
from psycopg_pool import AsyncConnectionPool

from contracts import DecodeError, decode_event
from kafkaio.connection import aiokafka_options
from notifier.dispatcher import Dispatcher
from notifier.metrics import NotifierMetrics
from notifier.retention import retain
from notifier.routing import Router, Writes
from notifier.schema import ensure_schema
from notifier.sender import Sender
from notifier.settings import NotifierSettings
from notifier.store import Store

log = logging.getLogger(__name__)


def consumed_partitions(settings: NotifierSettings) -> list[TopicPartition]:
    """Every partition of the topics the notifier reads, as the layout has them."""
    topics = settings.topics
    specs = (topics.businesses, topics.deliveries, topics.tracking)
    return [TopicPartition(spec.name, p) for spec in specs for p in range(spec.partitions)]


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
            **aiokafka_options(self.settings.kafka),
            group_id=f"{self.settings.topic_prefix}notifier",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        await self.consumer.start()
        await self._resume(self.consumer)
        dispatching = asyncio.create_task(self.dispatcher.run(self.stopping))
        retaining = asyncio.create_task(retain(self.settings, self.store, self.stopping))
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
            await retaining
            await self.consumer.stop()
            await self.sender.close()
            await self.pool.close()

    async def _write(self, writes: Writes, offsets: dict[TopicPartition, int]) -> None:
        """Write the batch, again and again while the database is away.

        The fold in memory already holds the batch, so the batch must land before the
        next is folded; every write in it is idempotent (upserts, `ON CONFLICT DO
        NOTHING`, offsets set), so a try that failed after its commit is harmless again.
        """
        delay = 0.2
        while True:
            try:
                await self.store.write_batch(writes, offsets)
                return
            except Exception:  # the database away or restarting
                log.exception("writing a batch failed; again in %.1f s", delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.settings.reconnect_max_delay_s)

    async def _resume(self, consumer: AIOKafkaConsumer) -> None:
        """Take every partition and position each at its stored offset, before any fetch.

        Assigned by the notifier itself rather than by the group's rebalance: with a
        rebalance listener, records were fetched from the group's position before the
        listener's seek to the stored offsets took effect, and folded twice (out of
        order for the endpoints learnt meanwhile). One notifier runs at a time anyway
        (docs/decisions/0004-webhooks.md); the group holds its offsets for the lag tools.
        """
        partitions = consumed_partitions(self.settings)
        consumer.assign(partitions)
        stored = await self.store.offsets(partitions)
        for tp in partitions:
            if tp in stored:
                consumer.seek(tp, stored[tp])
            else:
                await consumer.seek_to_beginning(tp)
        log.info("reading %d partitions, %d from a stored offset", len(partitions), len(stored))

    async def _fold(self, router: Router, batch: dict[TopicPartition, list[object]]) -> None:
        """Fold a batch, the businesses topic's records first, and write it with its offsets.

        Endpoint events first: an endpoint registered just before a delivery event that
        came in the same batch hears of it (it was recorded after the registration).
        """
        writes = Writes()
        offsets: dict[TopicPartition, int] = {}
        businesses = self.settings.topics.businesses.name
        for tp, records in sorted(batch.items(), key=lambda item: item[0].topic != businesses):
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
        await self._write(writes, offsets)
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
