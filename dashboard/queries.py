"""The dashboard's reads: one SQL query over the read contract's views per panel.

Each function takes an open connection and returns plain data (a DataFrame or a small
frozen dataclass), so the Streamlit layer only caches and draws, and the tests can check
the numbers without a browser. Nothing here touches a base table (docs/views.md).
Days are UTC days, like the views' buckets.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, LiteralString

import pandas as pd
import psycopg


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """[start, end) of a UTC day."""
    start = datetime.combine(day, time(0), tzinfo=UTC)
    return start, start + timedelta(days=1)


def _frame(
    conn: psycopg.Connection[Any], sql: LiteralString, params: tuple[Any, ...] = ()
) -> pd.DataFrame:
    cursor = conn.execute(sql, params)
    columns = [column.name for column in cursor.description or ()]
    return pd.DataFrame(cursor.fetchall(), columns=columns)


def fleet(conn: psycopg.Connection[Any]) -> pd.DataFrame:
    """The latest fix of every drone: the live map, the states and the batteries."""
    return _frame(
        conn,
        "SELECT drone_id, observed_at, lat, lon, altitude_m, ground_speed_mps, heading_deg,"
        " battery_pct, phase, delivery_id FROM drone_latest_view ORDER BY drone_id",
    )


IN_FLIGHT: LiteralString = (
    "SELECT delivery_id, status, drone_id, requested_at, latest_eta, remaining_m,"
    " latest_fix_at, latest_lat, latest_lon, dropoff_lat, dropoff_lon,"
    " count(*) OVER () AS in_flight"
    " FROM delivery_status_view WHERE status IN ('assigned', 'picked_up')"
    " ORDER BY latest_eta NULLS LAST, requested_at, delivery_id LIMIT %s"
)
"""The deliveries in flight, soonest ETA first, at most a page of them, with their count.

Why a page: a 10,000-drone fleet has about 4,600 deliveries in flight, and fetching all
of them every 5 s was most of the query's time (85 ms at p99 at 10 million fixes of
history, issue 18) for a table no operator reads to the end, nor a map with as many
rings. The view reads `delivery_current` (0075), a row per delivery, with a partial
index of the assigned and picked-up ones: O(in flight) once finished deliveries
outnumber them; the count and the top-N sort are over these rows, and only the page
crosses the wire. Not an index on the ETA: the sink rewrites every in-flight row's ETA
each second, and an index on it would make each of those updates touch it."""


@dataclass(frozen=True, slots=True)
class InFlight:
    """The soonest deliveries in flight (a page) and how many are in flight in all."""

    soonest: pd.DataFrame
    total: int


def in_flight(conn: psycopg.Connection[Any], shown: int) -> InFlight:
    """Deliveries with a drone and not yet delivered: the `shown` soonest by ETA, and the count."""
    frame = _frame(conn, IN_FLIGHT, (shown,))
    total = int(frame["in_flight"].iloc[0]) if len(frame) else 0
    return InFlight(soonest=frame.drop(columns="in_flight"), total=total)


@dataclass(frozen=True, slots=True)
class AirspaceShapes:
    """The airspace in force, as the maps draw it: rings of [lon, lat] and the depots."""

    name: str
    zones: list[dict[str, Any]]
    """One dict per no-fly zone: `name` and `polygon` (a ring of [lon, lat])."""
    depots: pd.DataFrame
    """`name`, `lat`, `lon` of every depot."""
    service_area: list[list[float]]
    """The service area's ring of [lon, lat]."""


def airspace(conn: psycopg.Connection[Any]) -> AirspaceShapes | None:
    """The airspace in force (`airspace_view`), or None before one is published."""
    row = conn.execute("SELECT name, zones, depots, service_area FROM airspace_view").fetchone()
    if row is None:
        return None
    name, zones, depots, area = row
    return AirspaceShapes(
        name=name,
        zones=[{"name": z["name"], "polygon": _ring(z["boundary"])} for z in zones],
        depots=pd.DataFrame(
            [(d["name"], d["position"]["lat"], d["position"]["lon"]) for d in depots],
            columns=["name", "lat", "lon"],
        ),
        service_area=_ring(area),
    )


def _ring(points: list[dict[str, float]]) -> list[list[float]]:
    return [[float(p["lon"]), float(p["lat"])] for p in points]


@dataclass(frozen=True, slots=True)
class DayOutcomes:
    """What became of the deliveries requested on one UTC day, so far."""

    requested: int
    assigned: int
    delivered: int
    cancelled: int
    failed: int
    open: int
    on_time: int
    with_promise: int
    mean_minutes_to_deliver: float | None
    p90_minutes_to_deliver: float | None

    @property
    def on_time_rate(self) -> float | None:
        """Share of the delivered deliveries with a promise that kept it (None: none)."""
        return self.on_time / self.with_promise if self.with_promise else None


def day_outcomes(conn: psycopg.Connection[Any], day: date) -> DayOutcomes:
    """Counts and delivery times of the deliveries requested on `day`."""
    start, end = day_bounds(day)
    row = conn.execute(
        "SELECT count(*), count(assigned_at), count(delivered_at), count(cancelled_at),"
        " count(failed_at),"
        " count(*) FILTER (WHERE delivered_at IS NULL AND cancelled_at IS NULL"
        "   AND failed_at IS NULL),"
        " count(*) FILTER (WHERE on_time), count(on_time),"
        " avg(seconds_to_deliver) / 60.0,"
        " percentile_cont(0.9) WITHIN GROUP (ORDER BY seconds_to_deliver) / 60.0"
        " FROM delivery_timeline_view WHERE requested_at >= %s AND requested_at < %s",
        (start, end),
    ).fetchone()
    assert row is not None  # an aggregate without GROUP BY always returns a row
    counts = [int(value) for value in row[:8]]
    return DayOutcomes(
        requested=counts[0],
        assigned=counts[1],
        delivered=counts[2],
        cancelled=counts[3],
        failed=counts[4],
        open=counts[5],
        on_time=counts[6],
        with_promise=counts[7],
        mean_minutes_to_deliver=None if row[8] is None else float(row[8]),
        p90_minutes_to_deliver=None if row[9] is None else float(row[9]),
    )


ETA_ACCURACY: LiteralString = (
    "SELECT lead, predictions, median_abs_s, p90_abs_s, signed_median_s,"
    " inside_window_share FROM eta_accuracy_table_view WHERE day = %s ORDER BY row_order"
)


def eta_accuracy(conn: psycopg.Connection[Any], day: date) -> pd.DataFrame:
    """Issue 19's accuracy table for the deliveries delivered on `day`.

    The rows of `eta_accuracy_table_view` (1, 5, 10, 15 minutes before the arrival and
    the quote), the one definition the notebooks and this panel share, so they show the
    same figures as `benchmarks/eta_accuracy_run.py`.
    """
    start, _ = day_bounds(day)
    return _frame(conn, ETA_ACCURACY, (start,))


def dead_letters(conn: psycopg.Connection[Any]) -> pd.DataFrame:
    """Refused records per reason (all processors and topics), most frequent first."""
    return _frame(
        conn,
        "SELECT reason, sum(records)::bigint AS records, max(last_refused_at) AS last_refused_at"
        " FROM dead_letter_counts_view GROUP BY reason ORDER BY records DESC, reason",
    )


def recent_deliveries(conn: psycopg.Connection[Any], day: date, limit: int = 200) -> list[str]:
    """The ids of the deliveries requested on `day`, latest first: the drill-down's list."""
    start, end = day_bounds(day)
    rows = conn.execute(
        "SELECT delivery_id FROM delivery_timeline_view"
        " WHERE requested_at >= %s AND requested_at < %s"
        " ORDER BY requested_at DESC, delivery_id LIMIT %s",
        (start, end, limit),
    ).fetchall()
    return [str(row[0]) for row in rows]


@dataclass(frozen=True)
class DeliveryDetail:
    """One delivery: its status row, its tracking updates and its events."""

    status: dict[str, Any]
    track: pd.DataFrame
    events: pd.DataFrame


def delivery_detail(conn: psycopg.Connection[Any], delivery_id: str) -> DeliveryDetail | None:
    """Everything the drill-down shows about one delivery; None if there is no such one."""
    status = _frame(
        conn, "SELECT * FROM delivery_status_view WHERE delivery_id = %s", (delivery_id,)
    )
    if status.empty:
        return None
    track = _frame(
        conn,
        "SELECT sequence, observed_at, drone_id, lat, lon, altitude_m, ground_speed_mps, status,"
        " remaining_m, eta FROM delivery_track_view WHERE delivery_id = %s"
        " ORDER BY observed_at, sequence",
        (delivery_id,),
    )
    events = _frame(
        conn,
        "SELECT sequence, event_type, occurred_at, drone_id FROM delivery_events_view"
        " WHERE delivery_id = %s ORDER BY sequence",
        (delivery_id,),
    )
    first = {str(column): value for column, value in status.iloc[0].items()}
    return DeliveryDetail(status=first, track=track, events=events)
