"""`delivery_quote_error_view` (0086): the quote at request time against what happened.

The hand-made data set (`tests.support.projection_dataset`: d1 quoted and delivered, d3
quoted and cancelled, d2 and d4 requested without a quote) plus two requests of this
module: d5, quoted, picked up and still flying, and d0, a request recorded before the
quote existed (its payload has no quote keys at all). Each is written the way the sink
writes it (`projections.rows.to_row`, the event's payload as it is). The numbers were
worked out by hand; docs/views.md documents the same view.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec
import psycopg
import pytest

from contracts import DeliveryRequested, PickedUp
from projections.rows import DELIVERY_EVENTS, to_row
from tests.support import projection_dataset as ds
from tests.support.projection_dataset import DROPOFF, PICKUP, at

COLUMNS = (
    "delivery_id, business_id, quoted_at, quoted_pickup_at, quoted_dropoff_at,"
    " picked_up_at, delivered_at, pickup_error_s, dropoff_error_s"
)


def d5() -> list[Any]:
    """Requested at 14:00, quoted pickup 14:03 and drop-off 14:12; picked up 14:03:20."""
    return [
        DeliveryRequested(
            event_id="d5-1",
            sequence=1,
            occurred_at=at(120),
            recorded_at=at(120),
            delivery_id="d5",
            business_id="b2",
            pickup=PICKUP,
            dropoff=DROPOFF,
            quoted_at=at(120),
            quoted_pickup_at=at(123),
            quoted_dropoff_at=at(132),
        ),
        PickedUp(
            event_id="d5-2",
            sequence=2,
            occurred_at=at(123 + 1 / 3),
            recorded_at=at(123 + 1 / 3),
            delivery_id="d5",
            drone_id="drone-b",
        ),
    ]


def d0_from_before_the_quote() -> tuple[Any, ...]:
    """A `delivery_events` row of a request whose payload predates the quote's fields."""
    event = DeliveryRequested(
        event_id="d0-1",
        sequence=1,
        occurred_at=at(-60),
        recorded_at=at(-60),
        delivery_id="d0",
        business_id="b1",
        pickup=PICKUP,
        dropoff=DROPOFF,
    )
    placed = to_row(event)
    assert placed is not None and placed[0] == DELIVERY_EVENTS
    row = placed[1]
    payload = {k: v for k, v in msgspec.to_builtins(event).items() if not k.startswith("quoted_")}
    return (*row[:-1], payload)


@pytest.fixture(scope="module")
def dsn(fresh_database: Callable[[], str]) -> str:
    dsn = fresh_database()
    extra = [to_row(event) for event in d5()]
    placed = [*ds.rows(), *(row for row in extra if row is not None)]
    placed.append((DELIVERY_EVENTS, d0_from_before_the_quote()))
    data = ds.as_sql(placed)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(data)  # type: ignore[arg-type]
        conn.execute(data)  # type: ignore[arg-type]  # loads are idempotent, as the sink's
    return dsn


def query(dsn: str, sql: str, time_zone: str = "UTC") -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn, options=f"-c TimeZone={time_zone}") as conn:
        return conn.execute(sql).fetchall()  # type: ignore[arg-type]


def test_the_sink_keeps_the_quote_in_the_request_s_payload(dsn: str) -> None:
    ((payload,),) = query(dsn, "SELECT payload FROM delivery_events WHERE event_id = 'd1-1'")
    assert payload["quoted_at"] is not None
    assert payload["quoted_pickup_at"].startswith("2026-11-27T12:01:30")
    assert payload["quoted_dropoff_at"].startswith("2026-11-27T12:10:30")


def test_each_quoted_delivery_with_its_errors(dsn: str) -> None:
    rows = query(dsn, f"SELECT {COLUMNS} FROM delivery_quote_error_view ORDER BY delivery_id")
    assert rows == [
        # quoted pickup 12:01:30, picked up 12:02: 30 s too early; drop-off 12:10:30,
        # delivered 12:10: 30 s too late.
        ("d1", "b1", at(0), at(1.5), at(10.5), at(2), at(10), -30.0, 30.0),
        # cancelled before any drone flew it: nothing happened to measure against.
        ("d3", "b1", at(45), at(47), at(55), None, None, None, None),
        # picked up 20 s after the quote, still flying: no drop-off error yet.
        ("d5", "b2", at(120), at(123), at(132), at(123 + 1 / 3), None, -20.0, None),
    ]  # d2 and d4 (recorded with no quote) and d0 (from before the quote): not there


def test_the_errors_are_instants_whatever_the_session_time_zone(dsn: str) -> None:
    sql = f"SELECT {COLUMNS} FROM delivery_quote_error_view ORDER BY delivery_id"
    assert query(dsn, sql, "Pacific/Auckland") == query(dsn, sql)


def test_its_columns_are_the_documented_ones(dsn: str) -> None:
    rows = query(
        dsn,
        "SELECT column_name, data_type FROM information_schema.columns"
        " WHERE table_name = 'delivery_quote_error_view' ORDER BY ordinal_position",
    )
    timestamps = "timestamp with time zone"
    assert rows == [
        ("delivery_id", "text"),
        ("business_id", "text"),
        ("quoted_at", timestamps),
        ("quoted_pickup_at", timestamps),
        ("quoted_dropoff_at", timestamps),
        ("picked_up_at", timestamps),
        ("delivered_at", timestamps),
        ("pickup_error_s", "double precision"),
        ("dropoff_error_s", "double precision"),
    ]
    assert [name for name, _ in rows] == [name.strip() for name in COLUMNS.split(",")]
