"""The Faust agent's wiring (the dispatcher), in Faust's own test context.

The processor is tested on its own; this checks that the agent hands records to it,
sends what it returns to the right topic, and survives poison records. (The gate and
the deliveries fold are batched stages outside Faust: `test_stages.py`.)
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

from contracts import decode_command, decode_dead_letter, encode_event, utc_now
from streams.runtime.faust_bends import IdempotentProducer
from streams.runtime.worker import bootstrap
from streams.settings import StreamsSettings
from tests.support.factories import PICKUP, fix, requested

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


def test_the_dispatch_agent_assigns_a_drone_and_outlives_poison(sent: Sent) -> None:
    now = utc_now()

    async def scenario() -> None:
        # Faust's RocksDB store keeps nothing for partitions never assigned (no broker).
        settings = StreamsSettings(
            kafka_bootstrap="localhost:1", topic_prefix="t-", table_store="memory://"
        )
        app = bootstrap(settings).app
        async with agent_named(app, "dispatch").test_context() as agent:
            await agent.put(key=b"fleet", value=b"\x00 poison")
            await agent.put(key=b"fleet", value=encode_event(fix("drone-1", 1, now, PICKUP)))
            await agent.put(key=b"fleet", value=encode_event(requested("d1", now)))

    asyncio.run(scenario())
    topics = [topic for topic, _, _ in sent]
    assert topics == ["t-deadletter", "t-delivery-commands"]
    assert decode_dead_letter(sent[0][2]).reason == "undecodable"
    proposal = decode_command(sent[1][2])
    assert (proposal.command_type, proposal.delivery_id) == ("AssignDrone", "d1")
