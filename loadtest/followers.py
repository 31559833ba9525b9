"""Customers following deliveries over the API's websocket: the latency end of the bench.

The bench requests `count` deliveries through the REST API, as a business would, and
opens each one's tracking websocket. Every update a customer receives carries the time
of the fix it was computed from (`observed_at`, stamped by the simulator when it built
the fix, on this machine's clock), so receive time minus `observed_at` is the latency
from the telemetry being produced to the customer having it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import random
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
import websockets

from simulator.world.scenario import default_scenario


@dataclass
class Followers:
    """Requests deliveries and follows them in a background thread until stopped.

    `api_urls`: the API processes; customer i asks the (i mod n)-th and follows its
    delivery on the websocket that one answers with, so each customer is served by one
    replica.
    """

    api_urls: list[str]
    api_key: str
    count: int
    seed: int = 7
    latencies_ms: list[float] = field(default_factory=list)
    """One per update received (snapshots excluded: they may be old by design)."""
    measuring: threading.Event = field(default_factory=threading.Event)
    """Latencies are kept only while this is set (after the warm-up)."""
    connected: int = 0
    request_errors: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> Followers:
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    async def _main(self) -> None:
        scenario = default_scenario()
        rng = random.Random(self.seed)  # noqa: S311 - seeded test points, not secrets
        tasks = []
        async with httpx.AsyncClient(timeout=10.0) as client:
            for n in range(self.count):
                pickup, dropoff = scenario.random_point(rng), scenario.random_point(rng)
                try:
                    response = await client.post(
                        f"{self.api_urls[n % len(self.api_urls)]}/v1/deliveries",
                        headers={"X-API-Key": self.api_key},
                        json={
                            "pickup": {"lat": pickup.lat, "lon": pickup.lon},
                            "dropoff": {"lat": dropoff.lat, "lon": dropoff.lon},
                        },
                    )
                    response.raise_for_status()
                except httpx.HTTPError:
                    self.request_errors += 1
                    continue
                tasks.append(asyncio.create_task(self._follow(response.json())))
        await asyncio.to_thread(self._stop.wait)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _follow(self, accepted: dict[str, object]) -> None:
        url = str(accepted["websocket_url"])
        protocols = [websockets.Subprotocol(str(p)) for p in accepted["websocket_subprotocols"]]  # type: ignore[attr-defined]
        with contextlib.suppress(websockets.ConnectionClosed, OSError):
            async with websockets.connect(url, subprotocols=protocols) as socket:
                self.connected += 1
                async for frame in socket:
                    received = datetime.now(UTC)
                    message = json.loads(frame)
                    if message.get("type") != "update" or not self.measuring.is_set():
                        continue
                    observed = datetime.fromisoformat(message["observed_at"])
                    self.latencies_ms.append((received - observed).total_seconds() * 1000.0)


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (0-100) by nearest rank; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = min(max(math.ceil(q / 100.0 * len(ordered)) - 1, 0), len(ordered) - 1)
    return round(ordered[rank], 1)
