"""In-process fan-out of tracking updates to websocket clients.

Each API process consumes the whole tracking topic itself (no consumer group, every
partition, from the end) and hands each update to the clients following that delivery.
A client has a bounded queue with latest-value coalescing: when it is full the older
update is replaced by the newer one, so a slow client gets the newest position, never
a backlog, and the consumer never waits for anyone.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict, defaultdict

from aiokafka import AIOKafkaConsumer

from contracts import DecodeError, TrackingUpdated, decode_event

log = logging.getLogger(__name__)


class Subscription:
    """One client's bounded, coalescing queue of updates."""

    def __init__(self, delivery_id: str, size: int) -> None:
        self.delivery_id = delivery_id
        self.queue: asyncio.Queue[TrackingUpdated] = asyncio.Queue(maxsize=size)
        self.coalesced = 0

    def offer(self, update: TrackingUpdated) -> None:
        """Enqueue without waiting; when full, drop the oldest update for this one."""
        while True:
            try:
                self.queue.put_nowait(update)
                return
            except asyncio.QueueFull:
                self.queue.get_nowait()
                self.coalesced += 1


class TrackingHub:
    """Subscriptions per delivery and the latest update of recent deliveries."""

    def __init__(self, queue_size: int = 1, latest_cache_size: int = 100_000) -> None:
        self.queue_size = queue_size
        self.latest_cache_size = latest_cache_size
        self._subscriptions: dict[str, set[Subscription]] = defaultdict(set)
        self._latest: OrderedDict[str, TrackingUpdated] = OrderedDict()
        self.consumed = 0
        self.coalesced = 0
        self.undecodable = 0
        self.running = False

    def subscribe(self, delivery_id: str) -> Subscription:
        """Follow a delivery's updates."""
        subscription = Subscription(delivery_id, self.queue_size)
        self._subscriptions[delivery_id].add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        """Stop following (its coalesced count goes to the hub's total)."""
        self.coalesced += subscription.coalesced
        subscribers = self._subscriptions.get(subscription.delivery_id)
        if subscribers is not None:
            subscribers.discard(subscription)
            if not subscribers:
                del self._subscriptions[subscription.delivery_id]

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
        for subscription in self._subscriptions.get(update.delivery_id, ()):
            subscription.offer(update)

    async def consume(self, bootstrap: str, topic: str) -> None:
        """Read the tracking topic from its end, forever, publishing every update."""
        # Without a group id, aiokafka assigns every partition of the subscribed topic.
        consumer = AIOKafkaConsumer(
            topic, bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="latest"
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
                    self.publish(event)
        finally:
            self.running = False
            await consumer.stop()
