"""State kept as state, on real PostgreSQL: `drone_latest`, the hourly outcomes, the analysts.

- `drone_latest` is written by the sink's own writer (`PostgresWriter`, the same COPY
  and upsert as live), batch by batch: a drone's row only moves forward in time, an older
  fix arriving later changes nothing, and whatever the order and batching of a set of
  fixes, the table equals what the history says (the old `DISTINCT ON` over
  `telemetry`, the view's definition before 0050).
- `delivery_hourly_outcomes_view` counts a rescheduled (twice assigned) delivery once.
- The analysts' role reads the views and nothing else.
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from psycopg import sql
from psycopg.conninfo import make_conninfo

from contracts import DeliveryRescheduled, Event, TelemetryReported, encode_event
from projections.migrate import ANALYST_ROLE
from projections.rollups import refresh_rollups
from projections.rows import to_row
from projections.settings import ProjectionsSettings
from projections.sink import PostgresWriter, SinkStats, build_rows
from tests.support import projection_dataset as ds
from tests.support.factories import DROPOFF, PICKUP, T0, assigned, delivered, fix, requested

LATEST = "SELECT drone_id, sequence, observed_at, event_id FROM drone_latest ORDER BY drone_id"
FROM_HISTORY = (
    "SELECT DISTINCT ON (drone_id) drone_id, sequence, observed_at, event_id FROM telemetry"
    " ORDER BY drone_id, observed_at DESC, sequence DESC"
)


def rows(dsn: str, query: str, *params: object) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(query, params).fetchall()  # type: ignore[arg-type]


def write_batches(dsn: str, batches: list[list[TelemetryReported]]) -> None:
    """Each list as one sink transaction, through the sink's own writer."""

    async def go() -> None:
        writer = PostgresWriter(ProjectionsSettings(database_url=dsn), SinkStats())
        try:
            for batch in batches:
                records = [("accepted-telemetry", encode_event(event)) for event in batch]
                await writer.write(build_rows(records, SinkStats()), {})
        finally:
            await writer.close()

    asyncio.run(go())


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_an_older_fix_arriving_later_changes_nothing(database: str) -> None:
    newest = fix("fwd-1", 5, at(50))
    write_batches(database, [[newest]])
    assert rows(database, LATEST) == [("fwd-1", 5, at(50), newest.event_id)]
    write_batches(database, [[fix("fwd-1", 3, at(30))], [fix("fwd-1", 4, at(40))]])
    assert rows(database, LATEST) == [("fwd-1", 5, at(50), newest.event_id)]
    write_batches(database, [[newest]])  # a redelivery: no change either
    later, same_time_higher = fix("fwd-1", 6, at(60)), fix("fwd-1", 7, at(60))
    write_batches(database, [[same_time_higher, fix("fwd-1", 2, at(20)), later]])
    assert rows(database, LATEST) == [("fwd-1", 7, at(60), same_time_higher.event_id)]
    assert rows(database, "SELECT count(*) FROM telemetry WHERE drone_id = 'fwd-1'") == [(6,)]


@pytest.fixture(scope="module")
def scratch(fresh_database: Callable[[], str]) -> str:
    return fresh_database()


# A fix: drone (3 of them), time in seconds (ties on purpose), sequence.
fixes_st = st.lists(
    st.tuples(st.sampled_from(["h-a", "h-b", "h-c"]), st.integers(0, 5), st.integers(1, 6)),
    min_size=1,
    max_size=15,
    unique=True,
)


@settings(max_examples=25, deadline=None)
@given(fixes=fixes_st, cuts=st.lists(st.integers(0, 15), max_size=4), data=st.data())
def test_any_order_and_batching_gives_the_latest_of_the_history(
    scratch: str, fixes: list[tuple[str, int, int]], cuts: list[int], data: st.DataObject
) -> None:
    with psycopg.connect(scratch, autocommit=True) as conn:
        conn.execute("TRUNCATE telemetry, drone_latest")
    events = [fix(drone, seq, at(second)) for drone, second, seq in fixes]
    ordered = data.draw(st.permutations(events))
    bounds = sorted({0, len(ordered), *(min(c, len(ordered)) for c in cuts)})
    write_batches(scratch, [list(ordered[a:b]) for a, b in itertools.pairwise(bounds)])
    assert rows(scratch, LATEST) == rows(scratch, FROM_HISTORY)


def rescheduled(seq: int) -> DeliveryRescheduled:
    return DeliveryRescheduled(
        event_id=f"resched-{secrets.token_hex(4)}",
        sequence=seq,
        occurred_at=T0 + timedelta(minutes=1),
        recorded_at=T0 + timedelta(minutes=1),
        delivery_id="twice",
        drone_id="drone-1",
        reason="battery",
        pickup=PICKUP,
        dropoff=DROPOFF,
        requested_at=T0,
        declined_by=("drone-1",),
    )


def test_the_hourly_outcomes_count_a_rescheduled_delivery_once(database: str) -> None:
    events: list[Event] = [
        requested("twice"),
        assigned("twice", "drone-1", 2),
        rescheduled(3),
        assigned("twice", "drone-2", 4),
        delivered("twice", "drone-2", 5),
        requested("once"),
        assigned("once", "drone-3", 2),
    ]
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute(ds.as_sql(p for p in map(to_row, events) if p is not None))  # type: ignore[arg-type]
    refresh_rollups(database)
    assert rows(database, "SELECT * FROM delivery_hourly_outcomes_view") == [
        # "twice": requested 12:00, delivered 12:04 (4 minutes), assigned twice.
        (T0, 2, 2, 1, 4.0, 4.0)
    ]


def test_an_analyst_reads_the_views_and_nothing_else(database: str) -> None:
    login, password = f"analyst_{secrets.token_hex(4)}", secrets.token_hex(12)
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} IN ROLE {}").format(
                sql.Identifier(login), sql.Literal(password), sql.Identifier(ANALYST_ROLE)
            )
        )
    try:
        as_analyst = make_conninfo(database, user=login, password=password)
        with psycopg.connect(as_analyst, autocommit=True) as conn:
            conn.execute("SELECT * FROM drone_latest_view LIMIT 1")
            conn.execute("SELECT * FROM delivery_hourly_outcomes_view LIMIT 1")
            for private in ("telemetry", "drone_latest", "delivery_events", "dead_letters"):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn.execute(
                        sql.SQL("SELECT 1 FROM {} LIMIT 1").format(sql.Identifier(private))
                    )
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("DELETE FROM drone_latest_view")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("CREATE TABLE mine (x int)")
    finally:
        with psycopg.connect(database, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(login)))
