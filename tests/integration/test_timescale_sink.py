"""The real sink writes into a real TimescaleDB; its views equal plain PostgreSQL's.

TimescaleDB is PGlite's WASM build served over the PostgreSQL protocol
(`projections/conformance/serve.mjs`, `tests.support.timescale_server`). The module's
real topics get a small history: a short run of the real simulator (two drones at
10 Hz, one flying a delivery, its records passed on to `accepted-telemetry` as the gate
would), the hand-made data set (eight days old), a fleet of generated drones reporting
every 30 s over the last five hours (the older chunks), a delivery that was rescheduled
(assigned, given back, assigned to another drone, delivered), poison on every topic
(records that decode to nothing) and duplicates (records sent twice). The real sink,
with the insert writer (`DRONEFLEET_PROJECTIONS_WRITER=insert`, one connection),
projects the topics into a TimescaleDB migrated by `projections.migrate`; the same sink
with its COPY writer projects them into a fresh database on the stack's PostgreSQL.
Then, on TimescaleDB, with the data the sink wrote:

1. the sink's writes created 1-hour chunks, one per hour that received fixes;
2. an old chunk is compressed (`compress_chunk`), then a late fix and a redelivered
   batch land in its hour: the fix once, the batch not again (both sinks run again);
3. `refresh_continuous_aggregate` over the written range materializes exactly the
   plain-PostgreSQL roll-up, and a digest of every `*_view` is equal on both servers;
4. the retention policy's job, run by hand on the sink's own connection while the
   sink keeps writing new fixes, drops the chunks older than 7 days and nothing else.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest
from aiokafka.structs import TopicPartition

from contracts import (
    DroneAssigned,
    Event,
    TelemetryReported,
    Topics,
    decode_event,
    encode_dead_letter,
    new_event_id,
    utc_now,
)
from devstack.settings import StackSettings
from kafkaio.offsets import end_offsets
from projections.migrate import migrate
from projections.rollups import refresh_rollups
from projections.settings import ProjectionsSettings
from projections.sink import Sink, projected_topics
from tests.support import projection_dataset as ds
from tests.support.factories import (
    DROPOFF,
    PICKUP,
    assigned,
    delivered,
    fix,
    picked_up,
    requested,
    rescheduled,
    tracking,
)
from tests.support.kafka_helpers import collect, produce
from tests.support.simulator_runner import DEPOT, Records, fixes_of, flying, near
from tests.support.sink_helpers import running_sink
from tests.support.timescale_server import connection, retried, timescale_server, view_digests

HOUR0 = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
START = HOUR0 - timedelta(hours=5)
COMPRESSED = HOUR0 - timedelta(hours=4)  # the hour whose chunk gets compressed
DRONES = 8

Produced = list[tuple[str, list[Any]]]


def fleet_run() -> list[Event]:
    """DRONES drones, a fix every 30 s from START to now (six 1-hour chunks)."""
    fixes: list[Event] = []
    count = int((datetime.now(UTC) - START).total_seconds() // 30)
    for d in range(DRONES):
        for i in range(count):
            at = START + timedelta(seconds=30 * i + d)
            fixes.append(fix(f"fleet-{d}", i + 1, at, speed=float(i % 17), battery=100.0 - i / 20))
    return fixes


FLEET = fleet_run()
"""Made once: a redelivery sends the very same records again (same ids, same bytes)."""


def at_time(event: Any, at: datetime) -> Any:
    return msgspec.structs.replace(event, occurred_at=at, recorded_at=at)


def rescheduled_delivery() -> tuple[list[Event], list[Event]]:
    """d-resched: requested, assigned to r1, given back, assigned to r2, delivered."""
    t = COMPRESSED + timedelta(minutes=5)
    events: list[Event] = [
        requested("d-resched", t),
        at_time(assigned("d-resched", "fleet-1", 2), t + timedelta(minutes=1)),
        rescheduled("d-resched", "fleet-1", 3, at=t + timedelta(minutes=3)),
        at_time(assigned("d-resched", "fleet-2", 4), t + timedelta(minutes=4)),
        at_time(picked_up("d-resched", "fleet-2", 5), t + timedelta(minutes=8)),
        at_time(delivered("d-resched", "fleet-2", 6), t + timedelta(minutes=20)),
    ]
    updates: list[Event] = [
        tracking("d-resched", n, t + timedelta(minutes=8 + n), PICKUP, remaining_m=900 - 100 * n)
        for n in range(1, 6)
    ]
    updates.append(
        tracking(
            "d-resched",
            6,
            t + timedelta(minutes=20),
            DROPOFF,
            status="delivered",
            remaining_m=0.0,
            eta_in=None,
        )
    )
    return events, updates


POISON = (b"poison", b"\x00 not an event at all")


def first_history(topics: Topics) -> Produced:
    """The data set, the fleet's run, the rescheduled delivery, poison and duplicates."""
    rng = random.Random(24)
    deliveries, updates = rescheduled_delivery()
    telemetry: list[Any] = [*ds.telemetry(), *FLEET]
    telemetry += rng.sample(telemetry, 60)  # redelivered
    rng.shuffle(telemetry)
    telemetry.insert(len(telemetry) // 2, POISON)
    delivery_events: list[Any] = [*ds.deliveries(), *deliveries, POISON]
    delivery_events += delivery_events[:4]
    tracked: list[Any] = [*reversed(ds.tracking()), *updates, POISON, updates[0]]
    letters: list[Any] = [
        (letter.source_topic.encode(), encode_dead_letter(letter)) for letter in ds.dead_letters()
    ]
    letters += [letters[0], (b"telemetry", b"\x00 not an envelope")]
    business: list[Any] = [*ds.businesses(), *ds.webhook_endpoints(), POISON]
    return [
        (topics.accepted_telemetry.name, telemetry),
        (topics.deliveries.name, delivery_events),
        (topics.tracking.name, tracked),
        (topics.deadletter.name, letters),
        (topics.businesses.name, business),
        (topics.airspace.name, [*ds.airspace()]),
    ]


SIM_DRONE = "sim-00000"


def landed(records: Records) -> bool:
    """The simulated drone flew its delivery and is idle at a depot again."""
    phases = [f.phase for f in fixes_of(records, SIM_DRONE)]
    return "returning" in phases and "idle" in phases[phases.index("returning") :]


async def simulated_run(stack: StackSettings, topics: Topics) -> list[tuple[bytes, bytes]]:
    """A short run of the real simulator: two drones at 10 Hz, one flies a delivery.

    Returns what the drones wrote to the raw `telemetry` topic (fixes and milestones,
    keyed by drone), for the test to pass on to `accepted-telemetry` as the gate would
    (every one of them is plausible). The assignment goes to the deliveries topic, which
    the sink projects too.
    """
    now = utc_now()
    job = DroneAssigned(
        event_id=new_event_id(),
        sequence=2,
        occurred_at=now,
        recorded_at=now,
        delivery_id="d-sim",
        drone_id=SIM_DRONE,
        pickup=near(DEPOT, 150, 50),
        dropoff=near(DEPOT, 250, 150),
    )
    async with flying(stack, topics, "sim-"):
        await produce(stack.kafka_bootstrap, topics.deliveries.name, [job])
        records = await collect(stack.kafka_bootstrap, topics.telemetry.name, landed, 90)
    return [(r.key, r.value) for r in records if r.key is not None and r.value is not None]


def send(stack: StackSettings, batches: Produced) -> None:
    for topic, records in batches:
        asyncio.run(produce(stack.kafka_bootstrap, topic, records))


async def log_ends(stack: StackSettings, topics: Topics) -> dict[tuple[str, int], int]:
    names, _ = projected_topics(topics)
    spec = {s.name: s.partitions for s in topics.all()}
    ends = await end_offsets(
        stack.kafka_bootstrap, [(name, p) for name in names for p in range(spec[name])]
    )
    return {where: offset for where, offset in ends.items() if offset > 0}


def ts_settings(stack: StackSettings, topics: Topics, url: str) -> ProjectionsSettings:
    return ProjectionsSettings(
        kafka_bootstrap=stack.kafka_bootstrap,
        topic_prefix=topics.prefix,
        database_url=url,
        projection="timescale",
        writer="insert",
        batch_max_rows=1000,
        flush_interval_ms=100,
        rollup_refresh_interval_s=0.5,
    )


def pg_settings(stack: StackSettings, topics: Topics, dsn: str) -> ProjectionsSettings:
    return ProjectionsSettings(
        kafka_bootstrap=stack.kafka_bootstrap,
        topic_prefix=topics.prefix,
        database_url=dsn,
        projection="postgres",
        batch_max_rows=1000,
        flush_interval_ms=100,
        rollup_refresh_interval_s=0.5,
        retention_hours=24 * 3650,  # the data set is 8 days old: keep it, like TimescaleDB here
    )


async def consumed(sink: Sink, ends: dict[tuple[str, int], int]) -> bool:
    """Whether the sink's checkpoints (read on its own connection) reach the log's ends."""
    stored = await sink.writer.checkpoints([TopicPartition(t, p) for t, p in ends])
    return {(tp.topic, tp.partition): o for tp, o in stored.items()} == ends


def run_until_consumed(settings: ProjectionsSettings, ends: dict[tuple[str, int], int]) -> Sink:
    """Run a sink until its checkpoints reach the ends; never a second connection."""

    async def go() -> Sink:
        sink = Sink(settings)
        task = asyncio.create_task(sink.run())
        try:
            deadline = asyncio.get_running_loop().time() + 180
            while not await consumed(sink, ends):
                if task.done():  # a write that failed for good: its error, not a timeout
                    task.result()
                    raise AssertionError("the sink stopped before catching up")
                assert asyncio.get_running_loop().time() < deadline, "the sink did not catch up"
                await asyncio.sleep(0.3)
        finally:
            sink.stop()
            await asyncio.wait_for(task, timeout=30)
        return sink

    return asyncio.run(go())


@pytest.fixture(scope="module")
def timescale() -> Iterator[str]:
    """A TimescaleDB server, migrated by the platform's own code."""
    with timescale_server() as url:
        retried(lambda: migrate(url))
        yield url


@pytest.fixture(scope="module")
def postgres(fresh_database: Any) -> str:
    return str(fresh_database())


def query(url: str, text: str, *params: object) -> list[tuple[Any, ...]]:
    """One statement on a connection of its own (TimescaleDB: only while no sink runs)."""
    with connection(url) as conn:
        conn.execute("SET TimeZone = 'UTC'")
        rows = conn.execute(text, params).fetchall()  # type: ignore[arg-type]
        conn.commit()
    return rows


@pytest.fixture(scope="module")
def simulated(running_stack: StackSettings, topics: Topics) -> list[tuple[bytes, bytes]]:
    """The simulator's records, on `accepted-telemetry` (with one of them twice)."""
    records = asyncio.run(simulated_run(running_stack, topics))
    assert any(getattr(decode_event(value), "delivery_id", None) == "d-sim" for _, value in records)
    send(running_stack, [(topics.accepted_telemetry.name, [*records, records[len(records) // 2]])])
    return records


@pytest.fixture(scope="module")
def first_written(
    running_stack: StackSettings,
    topics: Topics,
    timescale: str,
    postgres: str,
    simulated: list[tuple[bytes, bytes]],
) -> dict[str, Sink]:
    """The first history on the topics, projected into both databases."""
    send(running_stack, first_history(topics))
    ends = asyncio.run(log_ends(running_stack, topics))
    return {
        "timescale": run_until_consumed(ts_settings(running_stack, topics, timescale), ends),
        "postgres": run_until_consumed(pg_settings(running_stack, topics, postgres), ends),
    }


def chunks(url: str, table: str = "telemetry") -> list[tuple[datetime, datetime, bool]]:
    return [
        (lo, hi, bool(compressed))
        for lo, hi, compressed in query(
            url,
            "SELECT range_start, range_end, is_compressed FROM timescaledb_information.chunks"
            " WHERE hypertable_name = %s ORDER BY range_start",
            table,
        )
    ]


def test_the_sink_wrote_through_the_insert_writer_into_hour_chunks(
    first_written: dict[str, Sink],
    simulated: list[tuple[bytes, bytes]],
    timescale: str,
    postgres: str,
) -> None:
    stats = first_written["timescale"].stats
    assert stats.undecodable >= 5  # the poison of each topic, skipped
    # the roll-ups were refreshed on the writer's connection (the server takes no second)
    assert stats.refreshes >= 1 and stats.reconnects == 0
    fixes = query(postgres, "SELECT count(*) FROM telemetry")[0][0]
    flown = [e for _, v in simulated if isinstance(e := decode_event(v), TelemetryReported)]
    assert len(flown) >= 20
    assert fixes == len(ds.telemetry()) + len(FLEET) + len(flown)  # each once, repeats skipped
    assert query(timescale, "SELECT count(*) FROM telemetry")[0][0] == fixes
    hours = {
        row[0]
        for row in query(
            timescale, "SELECT DISTINCT date_trunc('hour', observed_at) FROM telemetry"
        )
    }
    found = chunks(timescale)
    assert {lo for lo, _, _ in found} == hours
    assert all(hi - lo == timedelta(hours=1) for lo, hi, _ in found)
    assert len(hours) >= 8  # two hours of the data set, the fleet's six (or seven)


@pytest.fixture(scope="module")
def compressed_and_late(
    running_stack: StackSettings,
    topics: Topics,
    timescale: str,
    postgres: str,
    first_written: dict[str, Sink],
) -> tuple[datetime, int]:
    """The chunk of COMPRESSED compressed, then a late fix and a redelivered batch in it."""
    compressed = query(
        timescale,
        "SELECT compress_chunk(format('%%I.%%I', chunk_schema, chunk_name)::regclass)::text"
        " FROM timescaledb_information.chunks"
        " WHERE hypertable_name = 'telemetry' AND range_start = %s",
        COMPRESSED,
    )
    assert len(compressed) == 1
    before = query(
        timescale,
        "SELECT count(*) FROM telemetry WHERE observed_at >= %s AND observed_at < %s",
        COMPRESSED,
        COMPRESSED + timedelta(hours=1),
    )[0][0]
    late = fix("late-1", 1, COMPRESSED + timedelta(minutes=30, seconds=7), speed=3.0)
    redelivered = [
        e for e in FLEET if COMPRESSED <= e.occurred_at < COMPRESSED + timedelta(hours=1)
    ]
    send(running_stack, [(topics.accepted_telemetry.name, [late, *redelivered[:120]])])
    ends = asyncio.run(log_ends(running_stack, topics))
    run_until_consumed(ts_settings(running_stack, topics, timescale), ends)
    run_until_consumed(pg_settings(running_stack, topics, postgres), ends)
    return late.occurred_at, int(before)


def test_a_compressed_chunk_takes_a_late_fix_once_and_a_redelivered_batch_not_again(
    compressed_and_late: tuple[datetime, int], timescale: str, postgres: str
) -> None:
    late_at, before = compressed_and_late
    hour = (COMPRESSED, COMPRESSED + timedelta(hours=1))
    assert [c for c in chunks(timescale) if c[0] == COMPRESSED] == [(*hour, True)]
    in_hour = "SELECT count(*) FROM telemetry WHERE observed_at >= %s AND observed_at < %s"
    assert query(timescale, in_hour, *hour)[0][0] == before + 1
    assert query(postgres, in_hour, *hour)[0][0] == before + 1
    assert query(timescale, "SELECT observed_at FROM telemetry WHERE drone_id = 'late-1'") == [
        (late_at,)
    ]


@pytest.fixture(scope="module")
def compared(
    compressed_and_late: tuple[datetime, int], timescale: str, postgres: str
) -> tuple[dict[str, str], dict[str, str], dict[str, str], dict[str, str]]:
    """Digests of every view on both, after the aggregate's refresh over the written range.

    Also the roll-up as materialized only (`timescaledb.materialized_only`), so real-time
    aggregation cannot stand in for a refresh that did not happen.
    """
    refresh_rollups(postgres)
    lo, hi = query(timescale, "SELECT min(observed_at), max(observed_at) FROM telemetry")[0]
    with connection(timescale) as conn:
        conn.autocommit = True
        conn.execute(
            "CALL refresh_continuous_aggregate('drone_minute_stats', %s, %s)",
            (lo - timedelta(minutes=1), hi + timedelta(minutes=2)),
        )
        conn.execute(
            "ALTER MATERIALIZED VIEW drone_minute_stats SET (timescaledb.materialized_only = true)"
        )
        materialized = {
            k: v for k, v in view_digests(conn).items() if k == "drone_minute_stats_view"
        }
        conn.execute(
            "ALTER MATERIALIZED VIEW drone_minute_stats SET (timescaledb.materialized_only = false)"
        )
        on_timescale = view_digests(conn)
    with connection(postgres) as conn:
        on_postgres = view_digests(conn)
    rollup = {"drone_minute_stats_view": on_postgres["drone_minute_stats_view"]}
    return on_timescale, on_postgres, materialized, rollup


def test_every_view_has_the_same_digest_on_timescaledb_and_postgresql(
    compared: tuple[dict[str, str], dict[str, str], dict[str, str], dict[str, str]],
) -> None:
    on_timescale, on_postgres, _, _ = compared
    assert {"drone_latest_view", "delivery_status_view", "drone_minute_stats_view"} <= set(
        on_postgres
    )
    empty = sorted(name for name, digest in on_postgres.items() if digest.startswith("0:"))
    assert empty == [], f"views with no row prove nothing: {empty}"
    assert on_timescale == on_postgres


def test_the_aggregate_refreshed_over_the_written_range_equals_the_postgresql_rollup(
    compared: tuple[dict[str, str], dict[str, str], dict[str, str], dict[str, str]],
) -> None:
    _, _, materialized, rollup = compared
    assert materialized == rollup


@pytest.fixture(scope="module")
def retention_run(
    running_stack: StackSettings,
    topics: Topics,
    timescale: str,
    compared: Any,
) -> tuple[int, list[Any]]:
    """The retention job run by hand on the sink's connection, between two sets of new fixes."""
    (job,) = query(
        timescale,
        "SELECT job_id FROM timescaledb_information.jobs"
        " WHERE proc_name = 'policy_retention' AND hypertable_name = 'telemetry'",
    )[0]
    now = datetime.now(UTC)
    new = [fix("fresh-1", i, now - timedelta(seconds=60 - i)) for i in range(1, 41)]
    settings = ts_settings(running_stack, topics, timescale)

    async def go() -> None:
        async with running_sink(settings) as sink:
            await produce(running_stack.kafka_bootstrap, topics.accepted_telemetry.name, new[:20])
            await wait_for_fixes(sink, "fresh-1", 20)
            await sink.writer.on_connection(lambda conn: conn.execute("CALL run_job(%s)", (job,)))
            await produce(running_stack.kafka_bootstrap, topics.accepted_telemetry.name, new[20:])
            await wait_for_fixes(sink, "fresh-1", 40)

    asyncio.run(go())
    return int(job), new


async def wait_for_fixes(sink: Sink, drone: str, n: int) -> None:
    """Until `n` fixes of the drone are stored (asked on the sink's own connection)."""

    def stored(conn: Any) -> int:
        found = conn.execute("SELECT count(*) FROM telemetry WHERE drone_id = %s", (drone,))
        return int(found.fetchone()[0])

    deadline = asyncio.get_running_loop().time() + 60
    while await sink.writer.on_connection(stored) < n:
        assert asyncio.get_running_loop().time() < deadline, f"{n} fixes of {drone} never landed"
        await asyncio.sleep(0.2)


def test_retention_drops_the_old_chunks_while_the_sink_writes_new_ones(
    retention_run: tuple[int, list[Any]], timescale: str
) -> None:
    kept = chunks(timescale)
    week_ago = datetime.now(UTC) - timedelta(days=7)
    assert kept and all(hi > week_ago for _, hi, _ in kept)  # the data set's 8-day-old ones went
    assert query(timescale, "SELECT count(*) FROM telemetry WHERE drone_id = 'drone-a'") == [(0,)]
    assert query(timescale, "SELECT count(*) FROM telemetry WHERE drone_id = 'fresh-1'") == [(40,)]
    assert query(timescale, "SELECT count(*) FROM telemetry WHERE drone_id = 'fleet-0'") == [
        (len([f for f in FLEET if f.drone_id == "fleet-0"]),)
    ]
    assert COMPRESSED in {lo for lo, _, _ in kept}
