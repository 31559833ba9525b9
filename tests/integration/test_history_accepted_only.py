"""Only what the platform accepted is history: poison in the real telemetry topic.

A real stream worker (`python -m streams worker`) and the real sink run on this module's
topics and database. One drone reports two good fixes; then the poison of the issue goes
into the raw `telemetry` topic: a fix at (0, 0), one stamped two days ahead, one 30 days
old, one 2.2 km away one second later, and a second fix with a sequence number already
used; then a last good fix. Every poison fix carries a marker (battery 12.345 %, on a
delivery of its own) and its own timestamp, and every view of the read contract but the
dead letters' is searched for them as JSON text: none may be found, all five must be in
`dead_letters_view` with their reasons, and the drone's latest position is its last
good fix, never the one from the future.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import msgspec
import psycopg

from contracts import GeoPoint, TelemetryReported, Topics, decode_event, utc_now
from devstack.services import RunningService
from devstack.settings import StackSettings
from projections.rollups import refresh_rollups
from projections.settings import ProjectionsSettings
from tests.support.factories import DEPOT, fix
from tests.support.kafka_helpers import produce, wait_for
from tests.support.sink_helpers import running_sink
from tests.support.stream_worker import worker  # noqa: F401  (this module's worker)

DRONE = "poisoned-1"
MARKER = 12.345
REFUSED_ONLY_IN = {"dead_letters_view"}  # where refused records belong (their bytes)


def poisoned(seq: int, when: Any, where: GeoPoint = DEPOT) -> TelemetryReported:
    bad = fix(DRONE, seq, when, where, delivery_id="d-poison", phase="to_dropoff")
    return msgspec.structs.replace(bad, battery_pct=MARKER)


def query(dsn: str, text: str, *params: object) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn, options="-c TimeZone=UTC") as conn:
        return conn.execute(text, params).fetchall()  # type: ignore[arg-type]


def test_refused_fixes_are_in_the_dead_letters_and_in_no_view(
    running_stack: StackSettings,
    topics: Topics,
    database: str,
    worker: RunningService,  # noqa: F811
) -> None:
    now = utc_now()
    good = [fix(DRONE, 1, now - timedelta(seconds=3)), fix(DRONE, 2, now - timedelta(seconds=2))]
    poison = {
        "null_island": poisoned(3, now - timedelta(seconds=1), GeoPoint(0.0, 0.0)),
        "future_timestamp": poisoned(4, now + timedelta(days=2)),
        "too_old": poisoned(5, now - timedelta(days=30)),
        "impossible_speed": poisoned(
            6, now - timedelta(seconds=1), GeoPoint(DEPOT.lat + 0.02, DEPOT.lon)
        ),
        "duplicate_sequence": poisoned(2, now - timedelta(seconds=2)),
    }
    last = fix(DRONE, 7, now)
    settings = ProjectionsSettings(
        kafka_bootstrap=running_stack.kafka_bootstrap,
        topic_prefix=topics.prefix,
        database_url=database,
        flush_interval_ms=50,
    )

    def refused() -> dict[str, str]:
        letters = query(
            database,
            "SELECT reason, value FROM dead_letters_view WHERE source_topic = %s",
            topics.telemetry.name,
        )
        return {decode_event(bytes(value)).event_id: str(reason) for reason, value in letters}

    def settled() -> bool:
        """The last good fix is stored and the five refusals are in the dead letters."""
        stored = query(
            database,
            "SELECT count(*) FROM telemetry WHERE drone_id = %s AND sequence = %s",
            DRONE,
            last.sequence,
        )
        return stored == [(1,)] and len(refused()) == len(poison)

    async def scenario() -> None:
        async with running_sink(settings):
            await produce(
                running_stack.kafka_bootstrap,
                topics.telemetry.name,
                [*good, *poison.values(), last],
            )
            await wait_for(settled, timeout_s=90, what="the last good fix and five dead letters")

    asyncio.run(scenario())
    refresh_rollups(database)

    assert refused() == {event.event_id: reason for reason, event in poison.items()}
    assert query(
        database, "SELECT sequence FROM telemetry WHERE drone_id = %s ORDER BY sequence", DRONE
    ) == [(1,), (2,), (7,)]
    assert query(
        database,
        "SELECT observed_at, lat, lon, battery_pct FROM drone_latest_view WHERE drone_id = %s",
        DRONE,
    ) == [(last.occurred_at, DEPOT.lat, DEPOT.lon, last.battery_pct)]

    views = [
        str(name)
        for (name,) in query(
            database,
            "SELECT table_name FROM information_schema.views"
            " WHERE table_schema = current_schema() AND table_name LIKE '%%\\_view' ORDER BY 1",
        )
    ]
    assert {"drone_latest_view", "drone_minute_stats_view", "drone_battery_view"} <= set(views)
    # What only a poison fix would put in a row: the marker, its dates, the null island.
    traces = [
        str(MARKER),
        "d-poison",
        poison["future_timestamp"].occurred_at.date().isoformat(),
        poison["too_old"].occurred_at.date().isoformat(),
        repr(poison["impossible_speed"].lat),
        '"lat":0,',
        '"lat":0.0,',
    ]
    found = {
        (name, trace): hits
        for name in views
        if name not in REFUSED_ONLY_IN
        for trace in traces
        if (
            hits := query(
                database,
                f"SELECT count(*) FROM {name} v WHERE row_to_json(v)::text LIKE %s",
                f"%{trace}%",
            )[0][0]
        )
    }
    assert found == {}, f"refused fixes in the read models: {found}"
    # The searches can find what they look for: the good fixes are there.
    assert query(
        database,
        "SELECT count(*) FROM drone_minute_stats_view v WHERE row_to_json(v)::text LIKE %s",
        f"%{DRONE}%",
    ) != [(0,)]
