"""In-process fan-out of tracking updates to websocket clients.

Each API process consumes the whole tracking topic itself (no consumer group, every
partition, from the end) and hands each update to the clients following that delivery.
A client has a bounded queue with latest-value coalescing: when it is full the older
update is replaced by the newer one, so a slow client gets the newest position, never
a backlog, and the consumer never waits for anyone.

A client that has missed `max_missed` updates in a row (each one replaced before it
could take it) is stuck, not just slow: the hub drops it, i.e. stops offering it
updates and sets its `dropped` event so its connection handler closes it. The threshold
counts updates, not seconds, so the rule is the same at any update rate and a test can
check it without timing.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict, defaultdict
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer

from contracts import DecodeError, TrackingUpdated, decode_event
from kafkaio.connection import Broker, aiokafka_options

log = logging.getLogger(__name__)


class Subscription:
    """One client's bounded, coalescing queue of updates."""

    def __init__(self, delivery_id: str, size: int, max_missed: int | None = None) -> None:
        self.delivery_id = delivery_id
        self.queue: asyncio.Queue[TrackingUpdated] = asyncio.Queue(maxsize=size)
        self.max_missed = max_missed
        self.coalesced = 0
        self.missed_in_a_row = 0
        self.dropped = asyncio.Event()

    def offer(self, update: TrackingUpdated) -> bool:
        """Enqueue without waiting; when full, drop the oldest update for this one.

        Returns False once the client has missed `max_missed` updates in a row: the
        caller then drops it.
        """
        while True:
            try:
                self.queue.put_nowait(update)
                break
            except asyncio.QueueFull:
                self.queue.get_nowait()
                self.coalesced += 1
                self.missed_in_a_row += 1
        return self.max_missed is None or self.missed_in_a_row < self.max_missed

    async def get(self) -> TrackingUpdated:
        """The next update; taking one shows the client keeps up, so the miss count resets."""
        update = await self.queue.get()
        self.missed_in_a_row = 0
        return update


class TrackingHub:
    """Subscriptions per delivery and the latest update of recent deliveries."""

    def __init__(
        self,
        queue_size: int = 1,
        latest_cache_size: int = 100_000,
        max_missed: int | None = None,
    ) -> None:
        self.queue_size = queue_size
        self.latest_cache_size = latest_cache_size
        self.max_missed = max_missed
        self._subscriptions: dict[str, set[Subscription]] = defaultdict(set)
        self._latest: OrderedDict[str, TrackingUpdated] = OrderedDict()
        self.consumed = 0
        self.coalesced = 0
        self.dropped = 0
        self.undecodable = 0
        self.running = False
        self.on_received: Callable[[TrackingUpdated], None] | None = None
        """Told of every update as the consumer reads it (the metrics time its fix's age)."""

    def subscribe(self, delivery_id: str) -> Subscription:
        """Follow a delivery's updates."""
        subscription = Subscription(delivery_id, self.queue_size, self.max_missed)
        self._subscriptions[delivery_id].add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        """Stop following (its coalesced count goes to the hub's total); idempotent."""
        subscribers = self._subscriptions.get(subscription.delivery_id)
        if subscribers is None or subscription not in subscribers:
            return
        self.coalesced += subscription.coalesced
        subscription.coalesced = 0
        subscribers.discard(subscription)
        if not subscribers:
            del self._subscriptions[subscription.delivery_id]

    def subscribers(self, delivery_id: str) -> int:
        """How many clients follow a delivery (for tests and metrics)."""
        return len(self._subscriptions.get(delivery_id, ()))

    def queued(self) -> int:
        """Updates waiting in all clients' queues: at most clients x queue size."""
        return sum(
            subscription.queue.qsize()
            for subscribers in self._subscriptions.values()
            for subscription in subscribers
        )

    def latest(self, delivery_id: str) -> TrackingUpdated | None:
        """The newest update seen for a delivery, if any."""
        return self._latest.get(delivery_id)

    def publish(self, update: TrackingUpdated) -> None:
        """Remember the update and offer it to the delivery's subscribers."""
        current = self._latest.get(update.delivery_id)
        if current is not None and current.sequence >= update.sequence:
            return  # an older or repeated update: the position only moves forward
        self._latest[update.delivery_id] = update
        self._latest.move_to_end(update.delivery_id)
        while len(self._latest) > self.latest_cache_size:
            self._latest.popitem(last=False)
        stuck = [
            subscription
            for subscription in self._subscriptions.get(update.delivery_id, ())
            if not subscription.offer(update)
        ]
        for subscription in stuck:
            self.unsubscribe(subscription)
            self.dropped += 1
            subscription.dropped.set()

    async def consume(self, bootstrap: Broker, topic: str) -> None:
        """Read the tracking topic from its end, forever, publishing every update."""
        # Without a group id, aiokafka assigns every partition of the subscribed topic.
        consumer = AIOKafkaConsumer(
            topic,
            **aiokafka_options(bootstrap),
            enable_auto_commit=False,
            auto_offset_reset="latest",
        )
        await consumer.start()
        try:
            self.running = True
            async for record in consumer:
                self.consumed += 1
                if record.value is None:
                    continue
                try:
                    event = decode_event(record.value)
                except DecodeError:
                    self.undecodable += 1
                    continue
                if isinstance(event, TrackingUpdated):
                    if self.on_received is not None:
                        self.on_received(event)
                    self.publish(event)
        finally:
            self.running = False
            await consumer.stop()
