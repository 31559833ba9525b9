"""`dronefleet-streams eta-report` reads the tracking topic up to its end and keeps updates only."""

from __future__ import annotations

import asyncio

from contracts import Topics
from devstack.settings import StackSettings
from streams.ops.eta_report import read_tracking
from streams.settings import StreamsSettings
from tests.support.factories import requested, tracking
from tests.support.kafka_helpers import produce


async def test_read_tracking_returns_every_update_and_skips_the_rest(
    running_stack: StackSettings, topics: Topics
) -> None:
    updates = [tracking(f"d{i}", seq=i) for i in range(1, 9)]
    await produce(running_stack.kafka_bootstrap, topics.tracking.name, updates[:4])
    await produce(
        running_stack.kafka_bootstrap,
        topics.tracking.name,
        [(b"d1", b"not an event"), requested("d1")],  # skipped: undecodable, not an update
    )
    await produce(running_stack.kafka_bootstrap, topics.tracking.name, updates[4:])
    settings = StreamsSettings(
        kafka_bootstrap=running_stack.kafka_bootstrap, topic_prefix=topics.prefix
    )
    read = await asyncio.wait_for(read_tracking(settings), timeout=60)
    assert sorted(u.event_id for u in read) == sorted(u.event_id for u in updates)
