"""The operators' dashboard: the live fleet, deliveries, ETAs, dead letters and lag.

Run it with `dronefleet-dashboard` (or `dronefleet demo`, which starts it). This script
is the composition root: it builds `DashboardSettings` and wires the queries (one per
panel, `dashboard.queries`) to Streamlit. Live panels are fragments re-run every
`refresh_s`; every read goes through `st.cache_data` with that same ttl, so the
database answers each panel's query once per period however many operators watch.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any, TypeVar

import pandas as pd
import psycopg
import streamlit as st

from dashboard import auth, figures, maps, queries, webhooks
from dashboard.lag import LagReport, read_lag
from dashboard.settings import DashboardSettings
from kafkaio.connection import Broker

T = TypeVar("T")


def _with_connection(dsn: str, read: Callable[[psycopg.Connection[Any]], T]) -> T:
    # A short connection per cached read: at most a few per refresh period, no pool
    # threads to keep alive in the Streamlit server.
    with psycopg.connect(dsn, connect_timeout=5) as conn:
        return read(conn)


def _fleet(dsn: str) -> pd.DataFrame:
    return _with_connection(dsn, queries.fleet)


def _in_flight(dsn: str, shown: int) -> queries.InFlight:
    return _with_connection(dsn, lambda conn: queries.in_flight(conn, shown))


def _airspace(dsn: str) -> queries.AirspaceShapes | None:
    return _with_connection(dsn, queries.airspace)


def _day_outcomes(dsn: str, day: date) -> queries.DayOutcomes:
    return _with_connection(dsn, lambda conn: queries.day_outcomes(conn, day))


def _eta_accuracy(dsn: str, day: date) -> pd.DataFrame:
    return _with_connection(dsn, lambda conn: queries.eta_accuracy(conn, day))


def _dead_letters(dsn: str) -> pd.DataFrame:
    return _with_connection(dsn, queries.dead_letters)


def _webhook_endpoints(dsn: str) -> pd.DataFrame | None:
    return _with_connection(dsn, webhooks.endpoints)


def _recent(dsn: str, day: date) -> list[str]:
    return _with_connection(dsn, lambda conn: queries.recent_deliveries(conn, day))


def _detail(dsn: str, delivery_id: str) -> queries.DeliveryDetail | None:
    return _with_connection(dsn, lambda conn: queries.delivery_detail(conn, delivery_id))


def _lag(bootstrap: Broker, groups: tuple[str, ...], timeout_s: float) -> LagReport:
    return read_lag(bootstrap, list(groups), timeout_s)


def _minutes(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def outcomes_panel(settings: DashboardSettings, day: date) -> None:
    """The day's outcomes as metrics."""
    cached = st.cache_data(ttl=settings.refresh_s, show_spinner=False)
    outcome = cached(_day_outcomes)(settings.database_url, day)
    cols = st.columns(8)
    cols[0].metric("Requested", outcome.requested)
    cols[1].metric("Delivered", outcome.delivered)
    cols[2].metric("Cancelled", outcome.cancelled)
    cols[3].metric("Failed", outcome.failed)
    cols[4].metric("Open", outcome.open)
    rate = outcome.on_time_rate
    cols[5].metric(
        "On time",
        "-" if rate is None else f"{rate:.0%}",
        help="Delivered at most 60 s after the first ETA promised (of those with one).",
    )
    cols[6].metric("Mean minutes to deliver", _minutes(outcome.mean_minutes_to_deliver))
    cols[7].metric("p90 minutes to deliver", _minutes(outcome.p90_minutes_to_deliver))


def fleet_panel(settings: DashboardSettings) -> None:
    """The live map, drones by state and battery, deliveries in flight."""
    cached = st.cache_data(ttl=settings.refresh_s, show_spinner=False)
    fleet = cached(_fleet)(settings.database_url)
    flying = cached(_in_flight)(settings.database_url, settings.in_flight_shown)
    airspace = cached(_airspace)(settings.database_url)
    left, right = st.columns([2, 1])
    with left:
        st.subheader(f"Fleet: {len(fleet)} drones")
        deck = maps.fleet_map(fleet, flying.soonest, settings.map_style, airspace)
        st.pydeck_chart(deck, height=460)
    with right:
        st.subheader("Drones by state")
        st.dataframe(figures.drones_by_state(fleet), hide_index=True)
        st.subheader("Drones by battery")
        st.dataframe(figures.drones_by_battery(fleet), hide_index=True)
    st.subheader(f"In flight: {flying.total}")
    if flying.total > len(flying.soonest):
        st.caption(
            f"The {len(flying.soonest)} soonest by ETA (on the map too);"
            " DRONEFLEET_DASHBOARD_IN_FLIGHT_SHOWN sets how many."
        )
    st.dataframe(
        figures.with_minutes_left(flying.soonest, datetime.now(UTC))[
            ["delivery_id", "status", "drone_id", "latest_eta", "minutes_left", "remaining_m"]
        ],
        hide_index=True,
    )


def health_panel(settings: DashboardSettings, day: date) -> None:
    """The ETA's accuracy (issue 19's table), dead letters by reason, the processors' lag."""
    cached = st.cache_data(ttl=settings.refresh_s, show_spinner=False)
    eta, dead, lag = st.columns(3)
    with eta:
        st.subheader("ETA accuracy by time to arrival")
        accuracy = cached(_eta_accuracy)(settings.database_url, day)
        if accuracy.empty:
            st.caption("No delivered delivery with ETA predictions on this day yet.")
        else:
            st.caption(
                "Error = ETA - arrival (s; negative: promised too early). Predictions within"
                " 30 s of each lead; the quote: picked up within 15 min of it."
            )
            st.dataframe(accuracy, hide_index=True)
            st.bar_chart(accuracy.set_index("lead")["median_abs_s"])
    with dead:
        st.subheader("Dead letters by reason")
        st.dataframe(cached(_dead_letters)(settings.database_url), hide_index=True)
    with lag:
        st.subheader("Stream processors' lag")
        lag_cache = st.cache_data(ttl=settings.lag_refresh_s, show_spinner=False)
        report = lag_cache(_lag)(settings.kafka, tuple(settings.groups), settings.kafka_timeout_s)
        if report.error:
            st.warning(report.error)
        st.dataframe(
            pd.DataFrame(
                [(t.group, t.topic, t.partitions, t.lag) for t in report.topics],
                columns=["group", "topic", "partitions", "lag"],
            ),
            hide_index=True,
        )


def webhooks_panel(settings: DashboardSettings) -> None:
    """Webhooks per endpoint: delivered, waiting, dead-lettered, failing, paused."""
    cached = st.cache_data(ttl=settings.refresh_s, show_spinner=False)
    st.subheader("Webhooks by endpoint")
    table = cached(_webhook_endpoints)(settings.database_url)
    if table is None:
        st.caption("No notifier has run against this database yet.")
    elif table.empty:
        st.caption("No webhook endpoint is registered.")
    else:
        paused = int(table["paused_until"].notna().sum())
        st.caption(
            f"{int(table['delivered'].sum())} delivered, {int(table['pending'].sum())} waiting,"
            f" {int(table['dead'].sum())} dead-lettered; {paused} endpoints paused"
        )
        st.dataframe(table, hide_index=True)


def drilldown_panel(settings: DashboardSettings, day: date) -> None:
    """One delivery: its status, track on a map, ETA over time and events."""
    cached = st.cache_data(ttl=settings.refresh_s, show_spinner=False)
    st.subheader("Delivery drill-down")
    choices = cached(_recent)(settings.database_url, day)
    chosen = st.selectbox("Delivery", choices, index=None, key="delivery", placeholder="pick one")
    if chosen is None:
        return
    detail = cached(_detail)(settings.database_url, chosen)
    if detail is None:
        st.info(f"No delivery {chosen}.")
        return
    status = detail.status
    st.markdown(
        f"**{chosen}**: {status['status']}, drone {status['drone_id'] or '-'}, "
        f"latest ETA {status['latest_eta'] or '-'}"
    )
    left, right = st.columns(2)
    with left:
        st.pydeck_chart(maps.track_map(detail.track, status, settings.map_style), height=360)
    with right:
        st.caption("Seconds left (ETA - fix time) at each tracking update")
        st.line_chart(figures.seconds_left_over_time(detail.track))
        st.dataframe(detail.events, hide_index=True)


def run(settings: DashboardSettings) -> None:
    """Lay out the page; the live parts re-run on their own every `refresh_s`."""
    st.set_page_config(page_title="dronefleet operations", layout="wide")
    if not auth.signed_in(settings):
        return  # nothing drawn and nothing queried before the operators' key
    st.title("dronefleet operations")
    day = st.sidebar.date_input("Day (UTC)", value=datetime.now(UTC).date(), key="day")
    assert isinstance(day, date)
    st.sidebar.caption(f"Refreshes every {settings.refresh_s:g} s.")

    def live() -> None:
        try:
            outcomes_panel(settings, day)
            fleet_panel(settings)
            health_panel(settings, day)
            webhooks_panel(settings)
        except psycopg.Error as error:
            st.error(f"The database did not answer: {error}")

    def drilldown() -> None:
        try:
            drilldown_panel(settings, day)
        except psycopg.Error as error:
            st.error(f"The database did not answer: {error}")

    st.fragment(run_every=settings.refresh_s)(live)()
    st.fragment(run_every=settings.refresh_s)(drilldown)()


run(DashboardSettings())
