"""The sink's newer read models on the real broker and PostgreSQL: dead letters and roll-ups.

The hand-made data set goes through Kafka and the real sink; the dead-letter records land
once each (a replay from offset 0 adds nothing), and the sink refreshes the materialized
roll-ups itself, so the analyst views show the data set without a manual refresh.
"""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
import pytest

from contracts import Topics, encode_dead_letter
from devstack.settings import StackSettings
from projections.settings import ProjectionsSettings
from projections.sink import Sink
from tests.support import projection_dataset as ds
from tests.support.database import count
from tests.support.kafka_helpers import produce
from tests.support.sink_helpers import run_sink_until_consumed


@pytest.fixture(scope="module")
def produced(running_stack: StackSettings, topics: Topics) -> int:
    """The data set on the module's topics (plus one garbage dead letter); records sent."""
    bootstrap = running_stack.kafka_bootstrap
    letters: list[tuple[bytes, bytes]] = [
        (letter.source_topic.encode(), encode_dead_letter(letter)) for letter in ds.dead_letters()
    ]
    letters.append((b"telemetry", b"\x00 not an envelope"))
    batches: list[tuple[str, list[Any]]] = [
        (topics.accepted_telemetry.name, list(ds.telemetry())),
        (topics.deliveries.name, ds.deliveries()),
        (topics.tracking.name, list(ds.tracking())),
        (topics.deadletter.name, letters),
    ]
    for topic, records in batches:
        asyncio.run(produce(bootstrap, topic, records))
    return sum(len(records) for _, records in batches)


@pytest.fixture(scope="module")
def dsn(fresh_database: Any) -> str:
    return str(fresh_database())


def run_sink(stack: StackSettings, topics: Topics, dsn: str, records: int) -> Sink:
    """A sink (refreshing roll-ups every 0.2 s) until its checkpoints cover every record."""
    settings = ProjectionsSettings(
        kafka_bootstrap=stack.kafka_bootstrap,
        topic_prefix=topics.prefix,
        database_url=dsn,
        rollup_refresh_interval_s=0.2,
    )

    return run_sink_until_consumed(settings, records)


def dead_letter_counts(dsn: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT reason, processor, source_topic, records FROM dead_letter_counts_view"
            " ORDER BY reason"
        ).fetchall()


EXPECTED_COUNTS = [
    ("illegal_transition", "deliveries", "deliveries", 1),
    ("out_of_range", "validate-telemetry", "telemetry", 2),
    ("undecodable", "validate-telemetry", "telemetry", 1),
]


def test_sink_writes_dead_letters_and_refreshes_rollups(
    running_stack: StackSettings, topics: Topics, dsn: str, produced: int
) -> None:
    sink = run_sink(running_stack, topics, dsn, produced)
    assert sink.stats.by_table["dead_letters"] == 4
    # The garbage envelope is counted, not fatal (more than once if a rebalance redelivers).
    assert sink.stats.undecodable >= 1
    assert sink.stats.refreshes >= 1
    assert dead_letter_counts(dsn) == EXPECTED_COUNTS
    with psycopg.connect(dsn) as conn:
        value = conn.execute(
            "SELECT value FROM dead_letters_view WHERE source_offset = 12"
        ).fetchone()
        minutes = conn.execute(
            "SELECT drone_id, fixes FROM drone_minute_stats_view ORDER BY drone_id, minute"
        ).fetchall()
        hours = conn.execute(
            "SELECT requested, delivered FROM delivery_hourly_outcomes_view ORDER BY hour"
        ).fetchall()
    assert value == (b'{"bad": true}',)
    assert minutes == [("drone-a", 3), ("drone-a", 2), ("drone-b", 1), ("drone-b", 1)]
    assert hours == [(3, 2), (1, 1)]


def test_replaying_the_dead_letter_topic_adds_nothing(
    running_stack: StackSettings, topics: Topics, dsn: str, produced: int
) -> None:
    with psycopg.connect(dsn) as conn:
        conn.execute("DELETE FROM projection_checkpoints")
    sink = run_sink(running_stack, topics, dsn, produced)
    assert sink.stats.records >= produced  # it really read every topic again
    assert sink.stats.by_table["dead_letters"] == 0
    assert count(dsn, "SELECT count(*) FROM dead_letters") == 4
    assert dead_letter_counts(dsn) == EXPECTED_COUNTS
