"""The quote a request is given is recorded with it (issue 19, part 1).

The route quotes before it sends: the unkeyed request's `DeliveryRequested` and the keyed
one's `RequestDelivery` carry the quote the 202 gives; without a quote (the read model
down) both carry none and the request is accepted all the same. The log is faked here;
tests/integration/test_api_quote_recorded.py reads the real topic.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pytest

from api import queries
from api.airspace import AirspaceKeeper
from api.idempotency import digest
from api.quote import FreeDrones
from api.routes import deliveries
from api.schemas import DeliveryAcceptedPublic, DeliveryRequestIn, PointIn
from api.settings import ApiSettings
from api.waiting import WaitingLine
from contracts import (
    DeliveryRequested,
    RequestDelivery,
    Topics,
    decode_command,
    decode_event,
)
from tests.support.airspaces import DEPOT_EAST, EAST_OF_SQUARE, WEST_OF_SQUARE, square_rules

BODY = DeliveryRequestIn(
    pickup=PointIn(lat=EAST_OF_SQUARE.lat, lon=EAST_OF_SQUARE.lon),
    dropoff=PointIn(lat=WEST_OF_SQUARE.lat, lon=WEST_OF_SQUARE.lon),
)


class _Count:
    def inc(self) -> None:
        pass


@dataclass
class FakeServices:
    """What a delivery request uses of `api.deps.Services` (the log is faked)."""

    airspace: AirspaceKeeper
    settings: ApiSettings = field(default_factory=lambda: ApiSettings(token_secret="s" * 32))
    topics: Topics = field(default_factory=Topics.with_prefix)
    pool: None = None
    metrics: Any = field(
        default_factory=lambda: type("M", (), {"deliveries_requested": _Count()})()
    )
    line: WaitingLine = field(default_factory=lambda: WaitingLine(0.0))
    drones: FreeDrones = field(default_factory=lambda: FreeDrones(0.0))

    def waiting_line(self) -> WaitingLine:
        return self.line

    def free_drones(self) -> FreeDrones:
        return self.drones


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, bytes]]:
    """What the route sends to the log (topic, value); one free drone, nobody waiting."""
    records: list[tuple[str, bytes]] = []

    async def record(services: object, topic: str, key: str, value: bytes, what: str) -> None:
        records.append((topic, value))

    async def delivery_status(pool: object, delivery_id: str) -> dict[str, Any] | None:
        return None

    async def free_drones(pool: object, silent_after_s: float) -> list[dict[str, Any]]:
        return [{"lat": DEPOT_EAST.lat, "lon": DEPOT_EAST.lon, "free": True}]

    async def waiting(pool: object) -> list[str]:
        return []

    monkeypatch.setattr(deliveries, "record", record)
    monkeypatch.setattr(queries, "delivery_status", delivery_status)
    monkeypatch.setattr(queries, "free_drones", free_drones)
    monkeypatch.setattr(queries, "waiting_deliveries", waiting)
    return records


def services() -> FakeServices:
    keeper = AirspaceKeeper()
    keeper.rules = square_rules()
    return FakeServices(keeper)


def ask(key: str | None) -> DeliveryAcceptedPublic:
    route = deliveries.request_delivery(BODY, "b1", services(), key)  # type: ignore[arg-type]
    return asyncio.run(route)


def test_an_unkeyed_request_s_event_carries_the_quote_of_its_202(
    sent: list[tuple[str, bytes]],
) -> None:
    accepted = ask(None)
    ((topic, value),) = sent
    event = decode_event(value)
    assert topic == Topics.with_prefix().deliveries.name and isinstance(event, DeliveryRequested)
    assert accepted.quote is not None
    assert event.quoted_at == accepted.quote.quoted_at == event.occurred_at
    assert event.quoted_pickup_at == accepted.quote.pickup_eta
    assert event.quoted_dropoff_at == accepted.quote.dropoff_eta


def test_a_keyed_request_s_command_carries_the_quote_outside_its_digest(
    sent: list[tuple[str, bytes]],
) -> None:
    accepted = ask("order-1")
    ((topic, value),) = sent
    command = decode_command(value)
    assert topic == Topics.with_prefix().delivery_commands.name
    assert isinstance(command, RequestDelivery) and accepted.quote is not None
    assert (command.quoted_at, command.quoted_pickup_at, command.quoted_dropoff_at) == (
        accepted.quote.quoted_at,
        accepted.quote.pickup_eta,
        accepted.quote.dropoff_eta,
    )
    assert command.request_digest == digest(BODY)  # the body's alone: a retry is no conflict


def test_without_a_read_model_the_request_is_recorded_without_a_quote(
    sent: list[tuple[str, bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(pool: object, silent_after_s: float) -> list[dict[str, Any]]:
        raise psycopg.OperationalError("the read model is down")

    monkeypatch.setattr(queries, "free_drones", broken)
    unkeyed, keyed = ask(None), ask("order-2")
    assert unkeyed.quote is None and keyed.quote is None
    event, command = decode_event(sent[0][1]), decode_command(sent[1][1])
    assert isinstance(event, DeliveryRequested) and isinstance(command, RequestDelivery)
    for recorded in (event, command):
        assert recorded.quoted_at is None
        assert recorded.quoted_pickup_at is None and recorded.quoted_dropoff_at is None
