"""The read contract's hand-made data set plus one delivery in flight, for the dashboard.

`tests.support.projection_dataset` (d1..d4, drone-a and drone-b, four dead letters) has no
delivery under way; the dashboard's in-flight table needs one: d5, requested 13:30,
assigned to drone-b, picked up, last tracked at 13:32 with 900 m left and an ETA of
13:40. Loaded the way the view tests load theirs (the sink's rows, twice).
"""

from __future__ import annotations

import psycopg

from contracts import Event, PickedUp, TrackingUpdated
from projections.rollups import refresh_rollups
from projections.rows import to_row
from tests.support import factories
from tests.support import projection_dataset as ds


def in_flight_events() -> list[Event]:
    """d5's request, assignment, pickup and one tracking update."""
    return [
        factories.requested("d5", at=ds.at(90)),
        factories.assigned("d5", "drone-b", seq=2),
        PickedUp(
            event_id="d5-3",
            sequence=3,
            occurred_at=ds.at(91),
            recorded_at=ds.at(91),
            delivery_id="d5",
            drone_id="drone-b",
        ),
        TrackingUpdated(
            event_id="trk-d5-1",
            sequence=1,
            occurred_at=ds.at(92),
            recorded_at=ds.at(92),
            delivery_id="d5",
            source_event_id="tel-drone-b-3",
            drone_id="drone-b",
            lat=ds.PICKUP.lat,
            lon=ds.PICKUP.lon,
            altitude_m=60.0,
            ground_speed_mps=15.0,
            status="en_route_to_dropoff",
            remaining_m=900.0,
            eta=ds.at(100),
        ),
    ]


def load(dsn: str) -> None:
    """Fill a migrated database with the data set and refresh the roll-ups."""
    placed = ds.rows()
    for event in in_flight_events():
        row = to_row(event)
        assert row is not None, event
        placed.append(row)
    data = ds.as_sql(placed)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(data)  # type: ignore[arg-type]
        conn.execute(data)  # type: ignore[arg-type]
    refresh_rollups(dsn)
