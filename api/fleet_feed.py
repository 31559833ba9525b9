"""The operators' feed: every delivery's tracking updates, from the same hub.

`FleetHub` is the API process's `TrackingHub` (one consumer of the tracking topic, the
same per-delivery fan-out) that also offers each accepted update to the fleet
subscribers. A fleet client's buffer coalesces per delivery: it holds at most the
newest update of each delivery not yet sent, so a slow operator gets every delivery's
latest position, never a backlog, and its memory is bounded by the number of deliveries
in flight (`max_pending`). One that missed `max_missed` updates of some delivery in a
row is stuck: it is dropped (its `dropped` event is set), as the customers' clients are.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict

from api.hub import Subscription, TrackingHub
from contracts import TrackingUpdated

FLEET = "*fleet*"
"""The pseudo delivery id of fleet subscriptions (never a real one: those are hex)."""


class FleetSubscription(Subscription):
    """One operator client's buffer: the newest pending update of each delivery."""

    def __init__(self, max_pending: int, max_missed: int | None) -> None:
        super().__init__(FLEET, 1)
        self.max_pending = max_pending
        self.fleet_max_missed = max_missed
        self._pending: OrderedDict[str, tuple[TrackingUpdated, int]] = OrderedDict()
        self._ready = asyncio.Event()

    def offer(self, update: TrackingUpdated) -> bool:
        """Keep the update as its delivery's pending one; False once the client is stuck."""
        missed = 0
        previous = self._pending.get(update.delivery_id)
        if previous is not None:
            missed = previous[1] + 1
            self.coalesced += 1
        elif len(self._pending) >= self.max_pending:
            self._pending.popitem(last=False)
            self.coalesced += 1
        self._pending[update.delivery_id] = (update, missed)
        self._ready.set()
        return self.fleet_max_missed is None or missed < self.fleet_max_missed

    def pending(self) -> int:
        """How many deliveries have an update waiting."""
        return len(self._pending)

    async def take(self) -> list[TrackingUpdated]:
        """Wait for updates, then take every pending one (oldest delivery first)."""
        await self._ready.wait()
        self._ready.clear()
        updates = [update for update, _ in self._pending.values()]
        self._pending.clear()
        return updates


class FleetHub(TrackingHub):
    """The tracking hub, plus the operators' fleet subscriptions."""

    def __init__(
        self,
        queue_size: int = 1,
        latest_cache_size: int = 100_000,
        max_missed: int | None = None,
    ) -> None:
        super().__init__(queue_size, latest_cache_size, max_missed)
        self._fleet: set[FleetSubscription] = set()
        self._fleet_max_missed = max_missed
        self.fleet_dropped = 0

    def subscribe_fleet(self) -> FleetSubscription:
        """Follow every delivery."""
        subscription = FleetSubscription(self.latest_cache_size, self._fleet_max_missed)
        self._fleet.add(subscription)
        return subscription

    def unsubscribe_fleet(self, subscription: FleetSubscription) -> None:
        """Stop following; idempotent."""
        if subscription in self._fleet:
            self._fleet.discard(subscription)
            self.coalesced += subscription.coalesced

    def fleet_subscribers(self) -> int:
        """How many operator clients follow the fleet."""
        return len(self._fleet)

    def publish(self, update: TrackingUpdated) -> None:
        """Publish as the hub does; offer what it accepted (not stale) to the fleet too."""
        super().publish(update)
        if not self._fleet or self.latest(update.delivery_id) is not update:
            return
        stuck = [subscription for subscription in self._fleet if not subscription.offer(update)]
        for subscription in stuck:
            self.unsubscribe_fleet(subscription)
            self.fleet_dropped += 1
            subscription.dropped.set()
