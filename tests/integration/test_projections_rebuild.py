"""A rebuild from offset 0 equals the live result, and the live sink goes on after the swap.

The hand-made data set (plus generated telemetry, so that there are many batches) is
produced out of order and with duplicates; the live sink projects it; then every table and
view is digested (md5 of its rows in a fixed order). The live tables are damaged on
purpose (rows deleted, a value changed) so that an empty rebuild, or a swap that leaves
the old tables in place, would give a different digest; `rebuild` must bring back the
exact digest of the live result, in new tables (new OIDs) that the views now read.
"""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta
from typing import Any

import psycopg
import pytest

from contracts import Topics, encode_dead_letter
from devstack.settings import StackSettings
from projections.rebuild import Progress, RebuildError, rebuild
from projections.rollups import refresh_rollups
from projections.settings import ProjectionsSettings
from projections.shadow import RETIRED_SCHEMA, SHADOW_SCHEMA
from tests.support import projection_dataset as ds
from tests.support.database import count
from tests.support.factories import T0, fix
from tests.support.kafka_helpers import produce
from tests.support.sink_helpers import run_sink_until_consumed

# Columns that record when a row was written, not what the log says.
WRITE_TIME_COLUMNS = {
    "projection_checkpoints": "projection, topic, partition, next_offset",
    "schema_migrations": "version, name",
}


def digests(dsn: str) -> dict[str, str]:
    """md5 of every table, view and materialized view of the live schema, rows sorted.

    A time partition is not compared on its own (its rows are in its table's digest):
    which empty partitions exist ahead depends on when the maintenance last ran.
    """
    with psycopg.connect(dsn) as conn:
        names = [
            str(row[0])
            for row in conn.execute(
                "SELECT relname FROM pg_class WHERE relnamespace = current_schema()::regnamespace"
                " AND relkind IN ('r', 'p', 'v', 'm') AND NOT relispartition ORDER BY relname"
            )
        ]
        result = {}
        for name in names:
            columns = WRITE_TIME_COLUMNS.get(name, "*")
            row = conn.execute(
                f"SELECT count(*), md5(coalesce(string_agg(r::text, E'\\n' ORDER BY r::text), ''))"
                f" FROM (SELECT {columns} FROM {name}) r"
            ).fetchone()
            assert row is not None
            result[name] = f"{row[0]}:{row[1]}"
    return result


def records_to_produce(topics: Topics) -> list[tuple[str, list[Any]]]:
    """The data set, shuffled (out of order), with duplicates, and 600 more fixes."""
    rng = random.Random(5)
    telemetry: list[Any] = list(ds.telemetry()) + [
        fix(f"drone-{d}", seq, T0 + timedelta(seconds=seq), speed=5.0)
        for d in range(6)
        for seq in range(1, 101)
    ]
    telemetry += rng.sample(telemetry, 40)  # redelivered
    rng.shuffle(telemetry)
    deliveries: list[Any] = ds.deliveries()
    deliveries += deliveries[:3]
    rng.shuffle(deliveries)
    tracking: list[Any] = list(reversed(ds.tracking()))
    letters: list[Any] = [
        (letter.source_topic.encode(), encode_dead_letter(letter)) for letter in ds.dead_letters()
    ]
    letters.append(letters[0])
    return [
        (topics.accepted_telemetry.name, telemetry),
        (topics.deliveries.name, deliveries),
        (topics.tracking.name, tracking),
        (topics.deadletter.name, letters),
    ]


def settings_for(stack: StackSettings, topics: Topics, dsn: str) -> ProjectionsSettings:
    return ProjectionsSettings(
        kafka_bootstrap=stack.kafka_bootstrap,
        topic_prefix=topics.prefix,
        database_url=dsn,
        batch_max_rows=100,  # many batches, so the replay's batching is exercised
        rollup_refresh_interval_s=3600.0,
    )


def run_sink(settings: ProjectionsSettings, records: int) -> None:
    run_sink_until_consumed(settings, records)


@pytest.fixture(scope="module")
def produced(running_stack: StackSettings, topics: Topics) -> int:
    batches = records_to_produce(topics)
    for topic, records in batches:
        asyncio.run(produce(running_stack.kafka_bootstrap, topic, records))
    return sum(len(records) for _, records in batches)


def oid(dsn: str, name: str) -> int:
    return count(dsn, "SELECT %s::regclass::oid", name)


def test_rebuild_equals_the_live_result(
    running_stack: StackSettings, topics: Topics, database: str, produced: int
) -> None:
    settings = settings_for(running_stack, topics, database)
    run_sink(settings, produced)
    refresh_rollups(database)
    live = digests(database)
    assert {"telemetry", "delivery_status_view", "drone_minute_stats_view"} <= set(live)
    assert live["telemetry"].startswith(f"{len(ds.telemetry()) + 600}:")
    assert live["drone_latest_view"].startswith("8:")  # drone-a, drone-b, drone-0..5

    with psycopg.connect(database) as conn:
        conn.execute("DELETE FROM telemetry WHERE drone_id IN ('drone-a', 'drone-3')")
        conn.execute("DELETE FROM delivery_events WHERE event_type = 'Delivered'")
        conn.execute("UPDATE tracking SET remaining_m = remaining_m + 1")
        conn.execute("UPDATE drone_latest SET battery_pct = 1 WHERE drone_id = 'drone-3'")
        # the deliveries' state table: a status gone back, an ETA lost
        conn.execute("UPDATE delivery_current SET status = 'assigned' WHERE status = 'delivered'")
        conn.execute("UPDATE delivery_current SET latest_eta = NULL")
    # Damage by hand notes no minute for the incremental roll-up (only the sink does):
    # re-aggregate everything, as after any write that bypasses the sink.
    refresh_rollups(database, full=True)
    damaged = digests(database)
    assert damaged["telemetry"] != live["telemetry"]
    assert damaged["delivery_status_view"] != live["delivery_status_view"]
    assert damaged["drone_minute_stats_view"] != live["drone_minute_stats_view"]
    assert damaged["drone_latest_view"] != live["drone_latest_view"]
    assert damaged["delivery_current"] != live["delivery_current"]
    old_telemetry = oid(database, "telemetry")

    seen: list[Progress] = []
    result = asyncio.run(rebuild(settings, on_progress=seen.append, progress_interval_s=0.0))

    assert digests(database) == live
    assert result.events == produced
    assert seen and seen[-1].phase in ("replay", "catch-up") and seen[-1].percent == 100.0
    assert [p.done for p in seen if p.phase == "replay"] == sorted(
        p.done for p in seen if p.phase == "replay"
    )
    assert oid(database, "telemetry") != old_telemetry  # new tables, views bound to them
    assert "telemetry" in result.relations and "delivery_status_view" in result.relations
    assert (
        count(
            database,
            "SELECT count(*) FROM pg_namespace WHERE nspname IN (%s, %s)",
            SHADOW_SCHEMA,
            RETIRED_SCHEMA,
        )
        == 0
    )


def test_the_live_sink_goes_on_after_a_rebuild(
    running_stack: StackSettings, topics: Topics, database: str, produced: int
) -> None:
    more = [fix("drone-late", seq, T0 + timedelta(seconds=seq)) for seq in range(1, 51)]
    asyncio.run(produce(running_stack.kafka_bootstrap, topics.accepted_telemetry.name, more))
    before = count(database, "SELECT count(*) FROM telemetry")
    run_sink(settings_for(running_stack, topics, database), produced + len(more))
    assert count(database, "SELECT count(*) FROM telemetry") == before + len(more)
    assert count(database, "SELECT count(*) FROM telemetry WHERE drone_id = 'drone-late'") == 50


def test_a_view_over_the_base_tables_stops_the_swap(
    running_stack: StackSettings, topics: Topics, database: str, produced: int
) -> None:
    with psycopg.connect(database) as conn:
        conn.execute("CREATE SCHEMA analyst")
        conn.execute("CREATE VIEW analyst.my_fixes AS SELECT drone_id FROM public.telemetry")
    before = digests(database)
    settings = settings_for(running_stack, topics, database)
    with pytest.raises(RebuildError, match=r"analyst\.my_fixes"):
        asyncio.run(rebuild(settings))
    assert digests(database) == before
    assert count(database, "SELECT count(*) FROM analyst.my_fixes") > 0
    assert (
        count(database, "SELECT count(*) FROM pg_namespace WHERE nspname = %s", SHADOW_SCHEMA) == 0
    )
