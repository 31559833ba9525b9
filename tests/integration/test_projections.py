"""The sink on the real broker and the real PostgreSQL: complete, idempotent, replayable."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import psycopg
import pytest

from contracts import Event, Topics
from devstack.settings import StackSettings
from projections.migrate import migrate
from projections.settings import ProjectionsSettings
from tests.support.database import count
from tests.support.factories import T0, assigned, fix, picked_up, requested
from tests.support.kafka_helpers import produce
from tests.support.sink_helpers import run_sink_until_consumed

FIXES_PER_DRONE = 100


def every_record(fixes: list[Event]) -> int:
    """The fixes, the duplicate, the garbage record and three delivery events."""
    return len(fixes) + 2 + 3


def telemetry_events() -> list[Event]:
    return [
        fix(
            drone, seq, T0 + timedelta(seconds=seq), phase="to_pickup", delivery_id="d1", speed=10.0
        )
        for drone in ("drone-a", "drone-b")
        for seq in range(1, FIXES_PER_DRONE + 1)
    ]


@pytest.fixture(scope="module")
def loaded(running_stack: StackSettings, topics: Topics) -> list[Event]:
    """The module's topics with telemetry (one duplicate, one garbage record) and a delivery."""
    fixes = telemetry_events()
    bootstrap = running_stack.kafka_bootstrap
    asyncio.run(
        produce(
            bootstrap,
            topics.accepted_telemetry.name,
            [*fixes, fixes[10], (b"x", b"\x00garbage")],
        )
    )
    asyncio.run(produce(bootstrap, topics.deliveries.name, [requested(), assigned(), picked_up()]))
    return fixes


def settings_for(stack: StackSettings, topics: Topics, dsn: str) -> ProjectionsSettings:
    prefix = topics.prefix
    return ProjectionsSettings(
        kafka_bootstrap=stack.kafka_bootstrap, topic_prefix=prefix, database_url=dsn
    )


def test_migrations_run_twice_apply_nothing(database: str) -> None:
    assert migrate(database) == []


def test_sink_writes_every_row_once(
    running_stack: StackSettings, topics: Topics, database: str, loaded: list[Event]
) -> None:
    settings = settings_for(running_stack, topics, database)
    sink = run_sink_until_consumed(settings, every_record(loaded))
    assert count(database, "SELECT count(*) FROM telemetry") == len(loaded)
    assert count(database, "SELECT count(DISTINCT event_id) FROM telemetry") == len(loaded)
    assert count(database, "SELECT count(*) FROM delivery_events") == 3
    # At-least-once: a rebalance may hand the sink a record twice; the rows stay unique.
    assert sink.stats.undecodable >= 1


def test_replay_from_offset_zero_adds_nothing(
    running_stack: StackSettings, topics: Topics, database: str, loaded: list[Event]
) -> None:
    before = count(database, "SELECT count(*) FROM telemetry")
    with psycopg.connect(database) as conn:
        conn.execute("DELETE FROM projection_checkpoints")
    settings = settings_for(running_stack, topics, database)
    sink = run_sink_until_consumed(settings, every_record(loaded))
    assert sink.stats.records >= len(loaded)  # it really read the log again
    assert count(database, "SELECT count(*) FROM telemetry") == before
    assert count(database, "SELECT count(*) FROM delivery_events") == 3


def test_status_view_folds_the_events(database: str, loaded: list[Event]) -> None:
    with psycopg.connect(database) as conn:
        row = conn.execute(
            "SELECT status, drone_id, business_id FROM delivery_status_view"
            " WHERE delivery_id = 'd1'"
        ).fetchone()
    assert row == ("picked_up", "drone-1", "b1")
