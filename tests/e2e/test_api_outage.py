"""The API while the Kafka broker is away: a prompt, truthful 503, then recording again.

The real app (uvicorn, its `BatchSender`, the hub) runs in-process against the private
stack's broker (`conftest.private_stack`), which this test stops and starts. While the
broker is away a registration must answer 503 within the request's wait
(`record_timeout_s`), never hang. The answer must not lie: a registration that lands in
the log after all is one whose answer said it might ("not confirmed ... may still be
recorded as <id>"), never one told "could not be recorded". Once the broker is back,
registrations are recorded again without restarting the API.
"""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from contracts import BusinessRegistered, Topics, decode_event
from loadtest.private_stack import PrivateStack
from tests.support.api_server import api_settings, serving
from tests.support.factories import tracking
from tests.support.kafka_helpers import collect

RECORD_TIMEOUT_S = 4.0
CLIENT_TIMEOUT_S = RECORD_TIMEOUT_S + 20.0
"""The client gives up much later than the API should answer: a hang fails the test."""
BACK_WITHIN_S = 120.0
"""How long the API may take to record again once the broker answers."""


@dataclass(frozen=True)
class Place:
    """The test's own topics and database on the private stack."""

    stack: PrivateStack
    topics: Topics
    dsn: str


@pytest.fixture
def place(private_stack: PrivateStack) -> Iterator[Place]:
    topics = private_stack.new_topics("apiout")
    database = private_stack.new_database("apiout")
    yield Place(private_stack, topics, private_stack.settings.dsn_for(database))
    private_stack.postgres.drop_database(database)
    private_stack.delete_topics(topics)


async def _register(client: httpx.AsyncClient, name: str) -> httpx.Response:
    body = {"name": name, "contact": "ops@example.com"}
    return await client.post("/v1/businesses", json=body)


async def test_while_kafka_is_away_the_api_refuses_at_once_and_recovers_by_itself(
    place: Place,
) -> None:
    operator_key = secrets.token_hex(32)
    settings = api_settings(
        place.stack.settings.kafka_bootstrap,
        place.topics,
        place.dsn,
        operator_key=operator_key,
        registration_wait_s=0.0,  # no sink runs here: "recorded" is the 202 `pending`
        record_timeout_s=RECORD_TIMEOUT_S,
    )
    async with serving(settings, tracking(f"probe-{uuid.uuid4().hex}")) as api:
        headers = {"X-Operator-Key": operator_key}
        async with httpx.AsyncClient(
            base_url=api.url, headers=headers, timeout=CLIENT_TIMEOUT_S
        ) as client:
            before = await _register(client, "before the outage")
            assert before.status_code == 202, before.text

            stopped = False
            try:
                await asyncio.to_thread(place.stack.stop_kafka)
                stopped = True
                maybe_recorded: set[str] = set()
                for attempt in range(2):
                    name = f"during the outage {attempt}"
                    answer = await _register(client, name)
                    assert answer.status_code == 503, answer.text
                    if "may still be recorded as" in answer.text:
                        maybe_recorded.add(name)
                    else:
                        assert "could not be recorded; try again" in answer.text
            finally:
                if stopped:
                    await asyncio.to_thread(place.stack.start_kafka)

            after = await _register_until_recorded(client, maybe_recorded)

    recorded = await collect(
        settings.kafka_bootstrap,
        place.topics.businesses.name,
        lambda records: after in {_name(record.value) for record in records},
    )
    names = {_name(record.value) for record in recorded}
    assert "before the outage" in names
    assert names - {"before the outage", after} <= maybe_recorded, "a refusal that landed"


async def _register_until_recorded(client: httpx.AsyncClient, maybe_recorded: set[str]) -> str:
    """Register again every second until the API confirms it; the name it recorded."""
    deadline = time.monotonic() + BACK_WITHIN_S
    attempt = 0
    while True:
        attempt += 1
        name = f"after the outage {attempt}"
        answer = await _register(client, name)
        if answer.status_code == 202:
            return name
        assert answer.status_code == 503, answer.text
        if "may still be recorded as" in answer.text:
            maybe_recorded.add(name)
        assert time.monotonic() < deadline, f"still 503 {BACK_WITHIN_S:.0f}s after the broker"
        await asyncio.sleep(1.0)


def _name(value: bytes | None) -> str:
    event = decode_event(value or b"")
    assert isinstance(event, BusinessRegistered)
    return event.name
