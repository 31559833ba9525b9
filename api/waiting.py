"""A waiting customer's place in the queue, read from the read model once for everyone.

While a delivery waits for a drone (requested, or rescheduled after its drone gave it
up), its customer is told how many deliveries are ahead of it. The figure is what the
read model can say truthfully: dispatch serves its queue in request order (a rescheduled
delivery keeps its request time), so the deliveries ahead are the waiting ones
requested before it. It says nothing about how many drones are free, so the page shows
the place, not a guessed time.

Counting folds every delivery (`queries.waiting_deliveries`), so one process reads the
queue at most once per `refresh_s` whatever number of customers wait, and they share it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Place:
    """Where a waiting delivery stands: `ahead` deliveries before it, `waiting` in all."""

    ahead: int
    waiting: int


def place_in(order: dict[str, int], delivery_id: str) -> Place | None:
    """The place of `delivery_id` in a queue given as id -> index; None when not in it."""
    index = order.get(delivery_id)
    return None if index is None else Place(ahead=index, waiting=len(order))


class WaitingLine:
    """The waiting deliveries in dispatch's order, re-read at most once per `refresh_s`."""

    def __init__(self, refresh_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.refresh_s = refresh_s
        self.clock = clock
        self.reads = 0
        self._order: dict[str, int] = {}
        self._read_at: float | None = None
        self._read_for_length = False
        """The last read was a quote's (`length`), made before its request was recorded."""
        self._lock = asyncio.Lock()

    async def place(
        self, read: Callable[[], Awaitable[list[str]]], delivery_id: str
    ) -> Place | None:
        """The delivery's place, from a queue at most `refresh_s` old.

        A delivery missing from the queue read earlier (requested since) makes a new read
        once that read is a second old, so it is not left without a place for a period.
        """
        async with self._lock:  # concurrent callers share one read
            age = None if self._read_at is None else self.clock() - self._read_at
            missing = delivery_id not in self._order
            if (
                age is None
                or age >= self.refresh_s
                or (missing and (age >= 1.0 or self._read_for_length))
            ):
                await self._read(read)
                self._read_for_length = False
        return place_in(self._order, delivery_id)

    async def length(self, read: Callable[[], Awaitable[list[str]]]) -> int:
        """How many deliveries wait: all are ahead of a new request (`api.quote`).

        From a queue at most `refresh_s` old.
        """
        async with self._lock:
            if self._read_at is None or self.clock() - self._read_at >= self.refresh_s:
                await self._read(read)
                # Read for a request not yet in the read model: the first socket of that
                # delivery must read again rather than wait a second without a place.
                self._read_for_length = True
        return len(self._order)

    async def _read(self, read: Callable[[], Awaitable[list[str]]]) -> None:
        queue = await read()
        self.reads += 1
        self._order = {waiting: index for index, waiting in enumerate(queue)}
        self._read_at = self.clock()
