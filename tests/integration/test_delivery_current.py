"""`delivery_current`, a delivery's state kept by the sink, on real PostgreSQL (0075).

- Written by the sink's own writer (`PostgresWriter`) batch by batch, in any order, with
  repeats, `delivery_status_view` (now over `delivery_current`) shows exactly what the
  fold over the history showed: the view's definition before 0075 (`FOLD_OVER_HISTORY`,
  0040's text), run on the same tables. A delivery known from tracking only stays out.
- A replay of older batches never moves a row back.
- The "now" questions (the dashboard's in-flight list, the API's waiting line) are
  answered from their partial indexes, not by reading every delivery.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts import DeliveryCancelled, Event, encode_event
from dashboard import queries as dashboard_queries
from dashboard.queries import IN_FLIGHT
from projections.settings import ProjectionsSettings
from projections.sink import PostgresWriter, SinkStats, build_rows
from tests.support.factories import (
    T0,
    assigned,
    delivered,
    failed,
    picked_up,
    requested,
    rescheduled,
    tracking,
)

# delivery_status_view as 0040 defined it (and 0070 kept it): the fold over every event
# and the latest tracking row, O(every delivery ever). The contract the table must keep.
FOLD_OVER_HISTORY = """
SELECT d.delivery_id,
       r.payload ->> 'business_id'                                   AS business_id,
       CASE last.event_type
           WHEN 'DeliveryRequested'   THEN 'requested'
           WHEN 'DroneAssigned'       THEN 'assigned'
           WHEN 'PickedUp'            THEN 'picked_up'
           WHEN 'Delivered'           THEN 'delivered'
           WHEN 'DeliveryCancelled'   THEN 'cancelled'
           WHEN 'DeliveryRescheduled' THEN 'rescheduled'
           WHEN 'DeliveryFailed'      THEN 'failed'
       END                                                           AS status,
       (r.payload -> 'pickup' ->> 'lat')::double precision           AS pickup_lat,
       (r.payload -> 'pickup' ->> 'lon')::double precision           AS pickup_lon,
       (r.payload -> 'dropoff' ->> 'lat')::double precision          AS dropoff_lat,
       (r.payload -> 'dropoff' ->> 'lon')::double precision          AS dropoff_lon,
       r.occurred_at                                                 AS requested_at,
       CASE WHEN last.event_type = 'DeliveryRescheduled' THEN NULL
            ELSE a.drone_id END                                      AS drone_id,
       dl.occurred_at                                                AS delivered_at,
       t.eta                                                         AS latest_eta,
       t.lat                                                         AS latest_lat,
       t.lon                                                         AS latest_lon,
       t.remaining_m                                                 AS remaining_m,
       t.observed_at                                                 AS latest_fix_at,
       last.sequence                                                 AS version,
       c.occurred_at                                                 AS cancelled_at
FROM (SELECT DISTINCT delivery_id FROM delivery_events) d
JOIN LATERAL (SELECT event_type, sequence FROM delivery_events e
              WHERE e.delivery_id = d.delivery_id ORDER BY sequence DESC LIMIT 1) last ON true
LEFT JOIN delivery_events r  ON r.delivery_id = d.delivery_id AND r.event_type = 'DeliveryRequested'
LEFT JOIN LATERAL (SELECT drone_id FROM delivery_events e
                   WHERE e.delivery_id = d.delivery_id AND e.event_type = 'DroneAssigned'
                   ORDER BY sequence DESC LIMIT 1) a ON true
LEFT JOIN delivery_events dl ON dl.delivery_id = d.delivery_id AND dl.event_type = 'Delivered'
LEFT JOIN delivery_events c  ON c.delivery_id = d.delivery_id AND c.event_type = 'DeliveryCancelled'
LEFT JOIN LATERAL (SELECT eta, lat, lon, remaining_m, observed_at FROM tracking tr
                   WHERE tr.delivery_id = d.delivery_id
                   ORDER BY observed_at DESC, sequence DESC LIMIT 1) t ON true
ORDER BY delivery_id
"""
STATUS_VIEW = "SELECT * FROM delivery_status_view ORDER BY delivery_id"
# The readers' own "now" queries (dashboard.queries.IN_FLIGHT, api.queries.waiting_deliveries).
WAITING = (
    "SELECT delivery_id FROM delivery_status_view"
    " WHERE status IN ('requested', 'rescheduled') ORDER BY requested_at, delivery_id"
)


def cancelled(delivery_id: str, seq: int) -> DeliveryCancelled:
    at = T0 + timedelta(minutes=3)
    return DeliveryCancelled(
        event_id=f"cancel-{delivery_id}-{seq}",
        sequence=seq,
        occurred_at=at,
        recorded_at=at,
        delivery_id=delivery_id,
        requested_by="b1",
        reason="no longer needed",
    )


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


# Every kind of life a delivery has, built once (the same event ids when repeated).
EVENTS: list[Event] = [
    # delivered, with three tracking updates (two at the same instant: sequence decides)
    requested("cur-done", at(0)),
    assigned("cur-done", "drone-1", 2),
    picked_up("cur-done", "drone-1", 3),
    delivered("cur-done", "drone-1", 4),
    tracking("cur-done", 1, at(10), remaining_m=900.0),
    tracking("cur-done", 2, at(20), remaining_m=500.0),
    tracking("cur-done", 3, at(20), remaining_m=400.0, eta_in=None),
    # rescheduled, then assigned to another drone and flying
    requested("cur-again", at(1)),
    assigned("cur-again", "drone-2", 2),
    rescheduled("cur-again", "drone-2", 3, at=at(5)),
    assigned("cur-again", "drone-3", 4),
    tracking("cur-again", 1, at(30), remaining_m=800.0),
    # rescheduled and still waiting
    requested("cur-waits", at(2)),
    assigned("cur-waits", "drone-4", 2),
    rescheduled("cur-waits", "drone-4", 3, at=at(6)),
    # failed with the parcel on board; cancelled before the pickup; just requested
    requested("cur-failed", at(3)),
    assigned("cur-failed", "drone-5", 2),
    picked_up("cur-failed", "drone-5", 3),
    failed("cur-failed", "drone-5", 4, at=at(40)),
    requested("cur-cancelled", at(4)),
    cancelled("cur-cancelled", 2),
    requested("cur-new", at(5)),
    # tracking of a delivery whose events have not reached the sink: not in the view
    tracking("cur-orphan", 1, at(50)),
]


def write_batches(dsn: str, batches: Sequence[Sequence[Event]]) -> None:
    """Each list as one sink transaction, through the sink's own writer."""

    async def go() -> None:
        writer = PostgresWriter(ProjectionsSettings(database_url=dsn), SinkStats())
        try:
            for batch in batches:
                records = [("topic", encode_event(event)) for event in batch]
                await writer.write(build_rows(records, SinkStats()), {})
        finally:
            await writer.close()

    asyncio.run(go())


def rows(dsn: str, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(query, params or None).fetchall()


@pytest.fixture(scope="module")
def scratch(fresh_database: Callable[[], str]) -> str:
    return fresh_database()


def empty(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("TRUNCATE delivery_events, tracking, delivery_current")


@settings(max_examples=25, deadline=None)
@given(
    order=st.permutations(EVENTS),
    repeats=st.lists(st.sampled_from(EVENTS), max_size=6),
    cuts=st.lists(st.integers(0, len(EVENTS) + 6), max_size=5),
)
def test_any_order_batching_and_repeats_give_the_fold_over_history(
    scratch: str, order: list[Event], repeats: list[Event], cuts: list[int]
) -> None:
    empty(scratch)
    events = [*order, *repeats]
    bounds = sorted({0, len(events), *(min(c, len(events)) for c in cuts)})
    write_batches(scratch, [events[a:b] for a, b in itertools.pairwise(bounds)])
    assert rows(scratch, STATUS_VIEW) == rows(scratch, FOLD_OVER_HISTORY)


def test_the_view_keeps_every_state_and_leaves_tracking_only_deliveries_out(scratch: str) -> None:
    empty(scratch)
    write_batches(scratch, [EVENTS])
    states = {row[0]: row for row in rows(scratch, STATUS_VIEW)}
    assert {d: row[2] for d, row in states.items()} == {
        "cur-done": "delivered",
        "cur-again": "assigned",
        "cur-waits": "rescheduled",
        "cur-failed": "failed",
        "cur-cancelled": "cancelled",
        "cur-new": "requested",
    }
    assert states["cur-again"][8] == "drone-3"  # the latest assignment's drone
    assert states["cur-waits"][8] is None  # rescheduled: no drone has it
    assert states["cur-done"][13:15] == (400.0, at(20))  # same instant: higher sequence
    assert states["cur-done"][10] is None  # that update's ETA
    assert rows(scratch, WAITING) == [("cur-waits",), ("cur-new",)]
    assert [row[0] for row in rows(scratch, IN_FLIGHT, (10,))] == ["cur-again"]


def test_the_dashboard_pages_the_soonest_in_flight_and_counts_them_all(scratch: str) -> None:
    """A fleet has thousands in flight: the panel fetches a page by ETA, the title counts all."""
    empty(scratch)
    flying: list[Event] = []
    for i, eta_in in enumerate((300.0, 45.0, 180.0)):
        delivery = f"cur-fly-{i}"
        flying += [
            requested(delivery, at(i)),
            assigned(delivery, f"drone-f{i}", 2),
            tracking(delivery, 1, at(30), eta_in=timedelta(seconds=eta_in)),
        ]
    write_batches(scratch, [EVENTS, flying])  # cur-again's ETA: at(90)
    with psycopg.connect(scratch) as conn:
        page = dashboard_queries.in_flight(conn, shown=2)
    assert page.total == 4
    assert page.soonest["delivery_id"].tolist() == ["cur-fly-1", "cur-again"]
    assert "in_flight" not in page.soonest.columns


def test_a_replay_of_older_batches_never_moves_a_row_back(scratch: str) -> None:
    empty(scratch)
    write_batches(scratch, [EVENTS])
    current = rows(scratch, "SELECT * FROM delivery_current ORDER BY delivery_id")
    older = [e for e in EVENTS if e.sequence <= 2]
    write_batches(scratch, [older, EVENTS[:5], [tracking("cur-done", 0, at(5))]])
    assert rows(scratch, "SELECT * FROM delivery_current ORDER BY delivery_id") == current
    assert rows(scratch, STATUS_VIEW) == rows(scratch, FOLD_OVER_HISTORY)


@pytest.mark.parametrize(
    ("query", "params", "index"),
    [
        (IN_FLIGHT, (200,), "delivery_current_in_flight_idx"),
        (WAITING, (), "delivery_current_waiting_idx"),
    ],
)
def test_the_now_questions_read_their_partial_index(
    scratch: str, query: str, params: tuple[Any, ...], index: str
) -> None:
    """The index is usable for the reader's own SQL (its predicate matches the filter).

    With a handful of rows the planner would rightly scan the table; sequential scans
    disabled, it must still find an index that answers, which a filter the index's
    predicate does not imply would not.
    """
    with psycopg.connect(scratch) as conn:
        conn.execute("SET enable_seqscan = off")
        plan = "\n".join(str(r[0]) for r in conn.execute(f"EXPLAIN {query}", params))
    assert index in plan, plan
