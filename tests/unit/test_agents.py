"""The Faust agents' wiring, in Faust's own test context: records in, sends out.

The processors are tested on their own; this checks that each agent hands records to the
right processor, sends what it returns to the right topic, and survives poison records.
Topic sends are captured instead of produced, and the changelog partitioner is pinned:
there is no broker in a unit test.
"""

from __future__ import annotations

import asyncio
from typing import Any

import faust
import pytest
from faust.topics import Topic
from faust.types import TP

from contracts import decode_dead_letter, decode_event, encode_event
from streams.app import bootstrap
from streams.faust_app import IdempotentProducer
from streams.settings import StreamsSettings
from tests.factories import requested

Sent = list[tuple[str, bytes, bytes]]


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> Sent:
    captured: Sent = []

    async def capture(self: Topic, *, key: bytes, value: bytes, **_: Any) -> None:
        captured.append((self.get_topic_name(), key, value))

    monkeypatch.setattr(Topic, "send", capture)
    # Tables pick their changelog partition with the producer's partitioner, which needs a
    # started producer (a broker); every table key here lands on partition 0.
    monkeypatch.setattr(IdempotentProducer, "key_partition", lambda self, topic, key: TP(topic, 0))
    return captured


def agent_named(app: faust.App, name: str) -> Any:
    app.finalize()
    return app.agents[name]


def test_the_deliveries_agent_forwards_requests_and_outlives_poison(sent: Sent) -> None:
    async def scenario() -> None:
        app = bootstrap(StreamsSettings(kafka_bootstrap="localhost:1", topic_prefix="t-"))
        async with agent_named(app, "deliveries").test_context() as agent:
            await agent.put(key=b"d1", value=b"\x00 poison")
            await agent.put(key=b"d1", value=encode_event(requested()))

    asyncio.run(scenario())
    topics = [topic for topic, _, _ in sent]
    assert topics == ["t-deadletter", "t-dispatch"]
    assert decode_dead_letter(sent[0][2]).reason == "undecodable"
    assert decode_event(sent[1][2]).event_type == "DeliveryRequested"
