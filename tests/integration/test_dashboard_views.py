"""The analysts' timeline view with reassignments and failures (0042 over 0020).

A delivery rescheduled once (its first drone gave it up) and then delivered keeps one
row, with the latest assignment; a delivery that failed with the parcel on board counts
as failed, not open, in the dashboard's day outcomes.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import psycopg

from contracts import DeliveryFailed, DeliveryRescheduled, DroneAssigned, Event
from dashboard.queries import day_outcomes
from projections.rows import to_row
from tests.support import factories
from tests.support import projection_dataset as ds


def assigned(delivery_id: str, drone_id: str, seq: int, minute: float) -> DroneAssigned:
    return DroneAssigned(
        event_id=f"{delivery_id}-{seq}",
        sequence=seq,
        occurred_at=ds.at(minute),
        recorded_at=ds.at(minute),
        delivery_id=delivery_id,
        drone_id=drone_id,
        pickup=ds.PICKUP,
        dropoff=ds.DROPOFF,
    )


def events() -> list[Event]:
    """r1: assigned to x, rescheduled, assigned to y, picked up, delivered. f1: failed."""
    return [
        factories.requested("r1", at=ds.at(0)),
        assigned("r1", "drone-x", 2, 1),
        DeliveryRescheduled(
            event_id="r1-3",
            sequence=3,
            occurred_at=ds.at(2),
            recorded_at=ds.at(2),
            delivery_id="r1",
            drone_id="drone-x",
            reason="battery",
            pickup=ds.PICKUP,
            dropoff=ds.DROPOFF,
            requested_at=ds.at(0),
            declined_by=("drone-x",),
        ),
        assigned("r1", "drone-y", 4, 3),
        factories.picked_up("r1", "drone-y", seq=5),
        factories.delivered("r1", "drone-y", seq=6),
        factories.requested("f1", at=ds.at(0)),
        assigned("f1", "drone-z", 2, 1),
        factories.picked_up("f1", "drone-z", seq=3),
        DeliveryFailed(
            event_id="f1-4",
            sequence=4,
            occurred_at=ds.at(5),
            recorded_at=ds.at(5),
            delivery_id="f1",
            drone_id="drone-z",
            reason="battery",
        ),
    ]


def test_one_row_per_delivery_with_the_latest_assignment(
    fresh_database: Callable[[], str],
) -> None:
    dsn = fresh_database()
    placed = []
    for event in events():
        row = to_row(event)
        assert row is not None, event
        placed.append(row)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(ds.as_sql(placed))  # type: ignore[arg-type]
        rows = conn.execute(
            "SELECT delivery_id, drone_id, assigned_at, assignments, failed_at IS NOT NULL"
            " FROM delivery_timeline_view ORDER BY delivery_id"
        ).fetchall()
        assert rows == [
            ("f1", "drone-z", ds.at(1), 1, True),
            ("r1", "drone-y", ds.at(3), 2, False),
        ]
        outcome = day_outcomes(conn, date(2026, 11, 27))
    assert (outcome.requested, outcome.delivered, outcome.failed, outcome.open) == (2, 1, 1, 0)
