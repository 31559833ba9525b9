"""Keeping a service's long-lived objects out of the cyclic collector's full passes.

Why: a full (generation 2) collection walks every live object and stops the event loop
meanwhile. With 5,000 websocket clients the API's pause measured 418 ms and was the
whole p99 of its fan-out (405 ms; BENCHMARKS.md, "Websocket fan-out"); in the stream
worker at 10,000 drones, the stages' tables and Faust's own structures made the pauses
the tail of the end-to-end latency ("End-to-end"). `gc.freeze()` moves every object
alive now into a permanent generation that collections skip; done every few seconds,
the collector only ever walks what is new.

The price: a reference cycle that becomes garbage after it was frozen (a closed
connection's objects, a forgotten partition's state) is not collected while frozen. So,
rarely, the objects are unfrozen and collected once in full: one long pause every
`full_every_s` instead of several a minute, and memory stays bounded.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Coroutine
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings


class GcFreezeSettings(BaseSettings):
    """The freezing's two periods, for a service's settings to inherit (its env prefix)."""

    gc_freeze_interval_s: float = Field(default=5.0, ge=0)
    """Freeze the live objects this often, so full collections skip them (0: off)."""
    gc_full_collection_interval_s: float = Field(default=600.0, gt=0)
    """Unfreeze and collect everything this often, so frozen garbage is freed."""

    def freezing(self) -> Coroutine[Any, Any, None] | None:
        """`freeze_periodically` with these periods, for the service's loop (None: off)."""
        if self.gc_freeze_interval_s <= 0:
            return None
        return freeze_periodically(self.gc_freeze_interval_s, self.gc_full_collection_interval_s)


async def freeze_periodically(every_s: float, full_every_s: float) -> None:
    """Freeze the live objects every `every_s`; unfreeze and collect every `full_every_s`."""
    last_full = time.monotonic()
    try:
        while True:
            await asyncio.sleep(every_s)
            if time.monotonic() - last_full >= full_every_s:
                gc.unfreeze()
                gc.collect()
                last_full = time.monotonic()
            gc.freeze()
    finally:
        gc.unfreeze()  # what this process keeps after us is collected as usual
