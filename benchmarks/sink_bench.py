"""Telemetry rows per second through the real sink, against `psql \\copy` of the same rows.

Why this exists: the sink trades raw speed for correctness (decode and validate every
record, a binary COPY under a savepoint with a staging-table fallback for repeats, the
offset checkpoint in the same transaction). `\\copy` straight into the
table is the ceiling of what PostgreSQL can ingest on this machine; the ratio says what
that correctness costs and whether the sink keeps up with a fleet (1,000 drones at 1 Hz
are 1,000 rows/s).

Both runs write into a fresh, migrated database on the local stack (the same schema,
indexes and primary key). The sink reads a topic pre-filled with N fixes; its clock
starts at its first committed batch (so the consumer group's join is not counted) and
stops when its checkpoints cover the topic. Run from the repository root with the stack
up: `python benchmarks/sink_bench.py [--rows 200000]`.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import platform
import secrets
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from aiokafka import AIOKafkaProducer

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from contracts import TelemetryReported, Topics, encode_event
from devstack import stack
from devstack.postgres import PostgresNode
from devstack.settings import StackSettings
from kafkaio.admin import admin_client
from projections.migrate import migrate
from projections.rows import TELEMETRY, to_row
from projections.settings import ProjectionsSettings
from projections.sink import Sink

DRONES = 1000
T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def fixes(n: int) -> list[TelemetryReported]:
    """n fixes of DRONES drones at 1 Hz."""
    return [
        TelemetryReported(
            event_id=f"bench-{i}",
            sequence=i // DRONES + 1,
            occurred_at=T0 + timedelta(seconds=i // DRONES),
            recorded_at=T0 + timedelta(seconds=i // DRONES),
            drone_id=f"drone-{i % DRONES}",
            delivery_id=None if i % 3 else f"d-{i % DRONES}",
            lat=47.37 + (i % 997) / 1e5,
            lon=8.54 + (i % 991) / 1e5,
            altitude_m=60.0,
            ground_speed_mps=12.5,
            heading_deg=float(i % 360),
            battery_pct=80.0,
            phase="to_dropoff",
        )
        for i in range(n)
    ]


async def fill(bootstrap: str, topic: str, events: list[TelemetryReported]) -> None:
    """Produce the events (keyed by drone) and wait for every ack."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20)
    await producer.start()
    try:
        futures = [
            await producer.send(topic, encode_event(e), key=e.drone_id.encode()) for e in events
        ]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


def written(dsn: str) -> tuple[int, int]:
    """(rows in telemetry, sum of the checkpoints)."""
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM telemetry),"
            " (SELECT coalesce(sum(next_offset), 0) FROM projection_checkpoints)"
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


async def time_sink(settings: ProjectionsSettings, n: int) -> tuple[float, int]:
    """Seconds from the sink's first batch to its last, and rows written in between.

    The clock reads the sink's own counters on its event loop, every 5 ms: polling the
    database instead (a connection and a `count(*)` per look) would take CPU from the
    server the sink is writing to and slow down what is measured.
    """
    sink = Sink(settings)
    task = asyncio.create_task(sink.run())
    try:
        deadline = time.monotonic() + 600
        while sink.stats.batches == 0:
            assert time.monotonic() < deadline, "the sink wrote nothing"
            assert not task.done(), "the sink stopped"
            await asyncio.sleep(0.005)
        started, first = time.perf_counter(), sink.stats.rows_written
        while sink.stats.rows_written < n:
            assert time.monotonic() < deadline, "the sink did not finish"
            assert not task.done(), "the sink stopped"
            await asyncio.sleep(0.005)
        elapsed = time.perf_counter() - started
    finally:
        sink.stop()
        await asyncio.wait_for(task, timeout=60)
    return elapsed, n - first


def time_copy(dsn: str, events: list[TelemetryReported], folder: Path) -> float:
    """Seconds for `psql \\copy` of the same rows from a CSV file."""
    path = folder / "telemetry.csv"
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        for event in events:
            placed = to_row(event)
            assert placed is not None
            writer.writerow(
                "" if v is None else v.isoformat() if isinstance(v, datetime) else v
                for v in placed[1]
            )
    columns = ", ".join(TELEMETRY.column_names)
    command = f"\\copy telemetry ({columns}) FROM '{path}' WITH (FORMAT csv)"
    started = time.perf_counter()
    subprocess.run(["psql", dsn, "-v", "ON_ERROR_STOP=1", "-qc", command], check=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    args = parser.parse_args()
    n: int = args.rows

    settings = StackSettings()
    prefix = f"bench{secrets.token_hex(3)}-"
    topics = Topics.with_prefix(prefix)
    stack.up(settings, topics)
    node = PostgresNode(settings)
    databases = [f"bench_sink_{secrets.token_hex(4)}", f"bench_copy_{secrets.token_hex(4)}"]
    for name in databases:
        node.ensure_database(name)
        migrate(settings.dsn_for(name))
    try:
        events = fixes(n)
        asyncio.run(fill(settings.kafka_bootstrap, topics.accepted_telemetry.name, events))
        sink_settings = ProjectionsSettings(
            kafka_bootstrap=settings.kafka_bootstrap,
            topic_prefix=prefix,
            database_url=settings.dsn_for(databases[0]),
            rollup_refresh_interval_s=3600.0,  # measure the writes, not the roll-ups
        )
        sink_s, sink_rows = asyncio.run(time_sink(sink_settings, n))
        assert written(sink_settings.database_url)[0] == n
        with tempfile.TemporaryDirectory() as folder:
            copy_s = time_copy(settings.dsn_for(databases[1]), events, Path(folder))
        assert written(settings.dsn_for(databases[1]))[0] == n
    finally:
        for name in databases:
            node.drop_database(name)
        asyncio.run(delete_topics(settings.kafka_bootstrap, topics))

    sink_rate, copy_rate = sink_rows / sink_s, n / copy_s
    print(
        json.dumps(
            {
                "rows": n,
                "sink_rows_timed": sink_rows,
                "sink_s": round(sink_s, 3),
                "sink_rows_per_s": round(sink_rate),
                "copy_s": round(copy_s, 3),
                "copy_rows_per_s": round(copy_rate),
                "copy_over_sink": round(copy_rate / sink_rate, 2),
                "python": platform.python_version(),
            }
        )
    )


async def delete_topics(bootstrap: str, topics: Topics) -> None:
    """Remove the benchmark's topics from the shared broker."""
    async with admin_client(bootstrap) as admin:
        await admin.delete_topics([spec.name for spec in topics.all()])


if __name__ == "__main__":
    main()
