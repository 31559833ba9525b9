"""The ETA's window in the read models (0085) and issue 19's accuracy table (0087).

The hand-made data set (`tests.support.projection_dataset`: d1 requested at 12:00 with a
quote, picked up at 12:02, delivered at 12:10; two updates of d1 with an ETA and no
window, from before the window) plus four updates of d1 with windows, each written the
way the sink writes it (`projections.rows.to_row`). The numbers were worked out by hand;
docs/views.md documents the same views.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import psycopg
import pytest

from contracts import TrackingUpdated
from projections.rows import to_row
from tests.support import projection_dataset as ds
from tests.support.projection_dataset import PICKUP, at


def window_update(
    seq: int, seen: float, eta: float, window: tuple[float, float] | None
) -> TrackingUpdated:
    """An update of d1 seen at `seen` (minutes after noon) with its ETA and window."""
    return TrackingUpdated(
        event_id=f"trk-d1-w{seq}",
        sequence=seq,
        occurred_at=at(seen),
        recorded_at=at(seen),
        delivery_id="d1",
        source_event_id=f"tel-drone-a-w{seq}",
        drone_id="drone-a",
        lat=PICKUP.lat,
        lon=PICKUP.lon,
        altitude_m=60.0,
        ground_speed_mps=12.0,
        status="en_route_to_dropoff",
        remaining_m=100.0,
        eta=at(eta),
        eta_earliest=None if window is None else at(window[0]),
        eta_latest=None if window is None else at(window[1]),
    )


def s(seconds: float) -> float:
    """Seconds as the dataset's minutes."""
    return seconds / 60


WINDOWED = [
    # 5 min to go (lead 320 s): ETA 12:09:40, 20 s early; window 12:09:30-12:10:20: inside.
    window_update(10, 10 - s(320), 10 - s(20), (10 - s(30), 10 + s(20))),
    # 5 min to go (300 s): ETA 10 s late, no window (an update from before it).
    window_update(11, 10 - s(300), 10 + s(10), None),
    # 1 min to go (60 s): ETA 2 s early; window 12:09:57-12:10:01: inside.
    window_update(12, 10 - s(60), 10 - s(2), (10 - s(3), 10 + s(1))),
    # 1 min to go (35 s, 25 s off the row): ETA 5 s late; window 12:10:01-12:10:09: the
    # arrival is before it.
    window_update(13, 10 - s(35), 10 + s(5), (10 + s(1), 10 + s(9))),
]


@pytest.fixture(scope="module")
def dsn(fresh_database: Callable[[], str]) -> str:
    dsn = fresh_database()
    extra = [to_row(update) for update in WINDOWED]
    data = ds.as_sql([*ds.rows(), *(row for row in extra if row is not None)])
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(data)  # type: ignore[arg-type]
        conn.execute(data)  # type: ignore[arg-type]  # loads are idempotent, as the sink's
    return dsn


def query(dsn: str, sql: str, time_zone: str = "UTC") -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn, options=f"-c TimeZone={time_zone}") as conn:
        return conn.execute(sql).fetchall()  # type: ignore[arg-type]


def test_the_window_lands_in_tracking_and_delivery_track_view(dsn: str) -> None:
    rows = query(
        dsn,
        "SELECT sequence, eta_earliest, eta_latest FROM delivery_track_view"
        " WHERE delivery_id = 'd1' ORDER BY sequence",
    )
    assert rows == [
        (1, None, None),
        (2, None, None),
        (3, None, None),
        (10, at(10 - s(30)), at(10 + s(20))),
        (11, None, None),
        (12, at(10 - s(3)), at(10 + s(1))),
        (13, at(10 + s(1)), at(10 + s(9))),
    ]


def test_eta_accuracy_view_scores_each_eta_against_the_arrival(dsn: str) -> None:
    rows = query(
        dsn,
        "SELECT sequence, round(lead_s::numeric, 3)::float8, lead_min,"
        " round(error_s::numeric, 3)::float8, inside_window, delivered_at"
        " FROM eta_accuracy_view ORDER BY sequence",
    )
    arrived = at(10)
    assert rows == [
        (1, 580.0, 10, 0.0, None, arrived),  # 12:00:20, ETA 12:10: within 30 s of 10 min
        (2, 560.0, None, -30.0, None, arrived),  # 40 s off 10 min: in no row
        (10, 320.0, 5, -20.0, True, arrived),
        (11, 300.0, 5, 10.0, None, arrived),
        (12, 60.0, 1, -2.0, True, arrived),
        (13, 35.0, 1, 5.0, False, arrived),
    ]  # the delivered update (12:10, not before the arrival) is not a prediction


def test_the_accuracy_table_is_issue_19_s_by_day(dsn: str) -> None:
    rows = query(
        dsn,
        "SELECT day, lead, predictions, median_abs_s, p90_abs_s, signed_median_s,"
        " inside_window_share FROM eta_accuracy_table_view ORDER BY day, row_order",
    )
    day = datetime(2026, 11, 27, tzinfo=at(0).tzinfo)
    rounded = [
        (d, lead, n, *(None if v is None else round(v, 6) for v in values))
        for d, lead, n, *values in rows
    ]
    assert rounded == [
        # errors -2 and +5: median |e| 3.5, p90 2 + 0.9 * 3, signed median 1.5; one of two in.
        (day, "1 min", 2, 3.5, 4.7, 1.5, 0.5),
        # errors -20 and +10; only the first had a window, and the arrival was inside it.
        (day, "5 min", 2, 15.0, 19.0, -5.0, 1.0),
        (day, "10 min", 1, 0.0, 0.0, 0.0, None),  # no window then: no share
        # The quote (0086): d1's drop-off quoted 12:10:30, delivered 12:10, picked up at
        # 12:02, within 15 minutes of the quote at 12:00.
        (day, "quote", 1, 30.0, 30.0, 30.0, None),
    ]


def test_the_table_is_the_same_whatever_the_session_time_zone(dsn: str) -> None:
    sql = "SELECT * FROM eta_accuracy_table_view ORDER BY day, row_order"
    assert query(dsn, sql, "Pacific/Auckland") == query(dsn, sql)
