"""The tracking socket tells a waiting customer its quote (issue 19): in the first
message, and again only when it moves materially (a queue that moved, a reschedule).

The socket's feed runs against fakes of the read model's queries and of the socket."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from api import queries
from api.airspace import AirspaceKeeper
from api.quote import FreeDrones
from api.routes.tracking import _Feed
from api.settings import ApiSettings
from api.waiting import WaitingLine
from tests.support.airspaces import DEPOT_EAST, EAST_OF_SQUARE, WEST_OF_SQUARE, square_rules


class Counter:
    def inc(self) -> None:
        pass


@dataclass
class FakeServices:
    """What `_Feed` uses of `api.deps.Services`."""

    airspace: AirspaceKeeper
    pool: None = None
    settings: ApiSettings = field(default_factory=lambda: ApiSettings(token_secret="s" * 32))
    metrics: Any = field(default_factory=lambda: type("M", (), {"ws_messages": Counter()})())
    line: WaitingLine = field(default_factory=lambda: WaitingLine(0.0))
    drones: FreeDrones = field(default_factory=lambda: FreeDrones(0.0))

    def waiting_line(self) -> WaitingLine:
        return self.line

    def free_drones(self) -> FreeDrones:
        return self.drones


class FakeSocket:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def send_text(self, text: str) -> None:
        self.sent.append(json.loads(text))


def test_a_waiting_customer_is_told_its_quote_first_and_again_when_it_moves(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    queue = ["d0", "d1"]  # one delivery ahead of d1, one drone free: no wait
    row = {
        "status": "requested",
        "pickup_lat": EAST_OF_SQUARE.lat,
        "pickup_lon": EAST_OF_SQUARE.lon,
        "dropoff_lat": WEST_OF_SQUARE.lat,
        "dropoff_lon": WEST_OF_SQUARE.lon,
    }

    async def delivery_status(pool: object, delivery_id: str) -> dict[str, Any]:
        return row

    async def latest_track(pool: object, delivery_id: str) -> None:
        return None

    async def waiting_deliveries(pool: object) -> list[str]:
        return list(queue)

    async def free_drones(pool: object, silent_after_s: float) -> list[dict[str, Any]]:
        free = {"lat": DEPOT_EAST.lat, "lon": DEPOT_EAST.lon, "free": True}
        busy = {"lat": 47.39, "lon": 8.55, "free": False}
        return [free, free, busy]

    for name, fake in (
        ("delivery_status", delivery_status),
        ("latest_track", latest_track),
        ("waiting_deliveries", waiting_deliveries),
        ("free_drones", free_drones),
    ):
        monkeypatch.setattr(queries, name, fake)
    keeper = AirspaceKeeper()
    keeper.rules = square_rules()
    socket = FakeSocket()
    feed = _Feed(socket, FakeServices(keeper), "d1")  # type: ignore[arg-type]

    async def scenario() -> None:
        await feed.from_read_model()
        (first,) = socket.sent
        assert first["type"] == "state" and first["status"] == "requested"
        assert first["waiting_ahead"] == 1
        assert first["quote"]["wait_s"] == 0.0
        assert first["quote"]["dropoff_eta"] > first["quote"]["pickup_eta"]
        await feed.from_read_model()  # the same queue and fleet: nothing new to say
        assert len(socket.sent) == 1
        queue[:0] = ["a", "b", "c"]  # more ahead than drones free: it must wait
        await feed.from_read_model()
        assert len(socket.sent) == 2
        second = socket.sent[1]
        assert second["waiting_ahead"] == 4 and second["quote"]["wait_s"] > 30

    asyncio.run(scenario())
