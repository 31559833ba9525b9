"""The event archive and the status view when drones give deliveries up (migration 0040).

Three deliveries on real PostgreSQL, archived through the sink's own row mapping:
`r1` was refused by one drone and delivered by another, `r2` was aborted before the
pickup and waits for a drone, `f1` failed after the pickup. The view must keep one row
per delivery (several DroneAssigned events per delivery now) and name the drone that
has it; the archive keeps why each drone gave up.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import psycopg

from contracts import DeliveryFailed, DeliveryRescheduled, Event
from projections.rows import DELIVERY_EVENTS, to_row
from tests.support import projection_dataset as ds
from tests.support.factories import DROPOFF, PICKUP, T0, assigned, delivered, picked_up, requested


def rescheduled(delivery_id: str, drone_id: str, sequence: int) -> DeliveryRescheduled:
    at = T0 + timedelta(minutes=sequence)
    return DeliveryRescheduled(
        event_id=f"{delivery_id}-r{sequence}",
        sequence=sequence,
        occurred_at=at,
        recorded_at=at,
        delivery_id=delivery_id,
        drone_id=drone_id,
        reason="insufficient_battery",
        pickup=PICKUP,
        dropoff=DROPOFF,
        requested_at=T0,
        declined_by=(drone_id,),
    )


def history() -> list[Event]:
    failed = DeliveryFailed(
        event_id="f1-fail",
        sequence=4,
        occurred_at=T0 + timedelta(minutes=4),
        recorded_at=T0 + timedelta(minutes=4),
        delivery_id="f1",
        drone_id="drone-1",
        reason="battery",
    )
    return [
        requested("r1"),
        assigned("r1", "drone-1", seq=2),
        rescheduled("r1", "drone-1", 3),
        assigned("r1", "drone-2", seq=4),
        picked_up("r1", "drone-2", seq=5),
        delivered("r1", "drone-2", seq=6),
        requested("r2"),
        assigned("r2", "drone-3", seq=2),
        rescheduled("r2", "drone-3", 3),
        requested("f1"),
        assigned("f1", "drone-1", seq=2),
        picked_up("f1", "drone-1", seq=3),
        failed,
    ]


def test_the_status_view_follows_reschedules_and_failures(
    fresh_database: Callable[[], str],
) -> None:
    dsn = fresh_database()
    placed = [to_row(event) for event in history()]
    assert all(p is not None and p[0] is DELIVERY_EVENTS for p in placed)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(ds.as_sql(p for p in placed if p is not None))
        rows = conn.execute(
            "SELECT delivery_id, status, drone_id, version, delivered_at IS NOT NULL"
            " FROM delivery_status_view ORDER BY delivery_id"
        ).fetchall()
        reasons = conn.execute(
            "SELECT delivery_id, event_type, payload ->> 'reason' FROM delivery_events"
            " WHERE event_type IN ('DeliveryRescheduled', 'DeliveryFailed') ORDER BY delivery_id"
        ).fetchall()
        archived = conn.execute(
            "SELECT event_type, drone_id FROM delivery_events"
            " WHERE delivery_id = 'r1' ORDER BY sequence"
        ).fetchall()
    assert rows == [
        ("f1", "failed", "drone-1", 4, False),
        ("r1", "delivered", "drone-2", 6, True),
        ("r2", "rescheduled", None, 3, False),
    ]
    assert reasons == [
        ("f1", "DeliveryFailed", "battery"),
        ("r1", "DeliveryRescheduled", "insufficient_battery"),
        ("r2", "DeliveryRescheduled", "insufficient_battery"),
    ]
    assert archived == [
        ("DeliveryRequested", None),
        ("DroneAssigned", "drone-1"),
        ("DeliveryRescheduled", "drone-1"),
        ("DroneAssigned", "drone-2"),
        ("PickedUp", "drone-2"),
        ("Delivered", "drone-2"),
    ]
