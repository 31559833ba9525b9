"""History benchmark on the TimescaleDB schema (issue 18, part 5: "where it can run").

The TimescaleDB that runs here is PGlite's WASM build with TimescaleDB 2.23 (PostgreSQL
17.5 compiled to 32-bit WASM, one thread, in Node) served over the PostgreSQL protocol by
pglite-socket 0.0.22 (`projections/conformance/serve.mjs`, started by
`tests.support.timescale_server`, imported from there: the repository root is on the
path, as for `history_bench`). It is not a production TimescaleDB: one single-threaded
session serves every client, one connection at a time, no background workers (the
policies exist and never run by themselves), no COPY (docs/views.md, "TimescaleDB").
What it gives is the TimescaleDB schema itself (hypertables with 1-hour chunks,
the continuous aggregate, compression, `drop_chunks`), under the platform's own
migrations, the same history and the same queries as `history_bench` on PostgreSQL.

Everything is `history_bench`'s but the parts that differ on TimescaleDB, each said
here:

1. A fresh server per N (one database only), migrated by `projections.migrate` (0002
   makes `telemetry` and `tracking` hypertables and `drone_minute_stats` a continuous
   aggregate; 0070 sets 1-hour chunks and the policies; its partitioning is skipped).
   The fill is `history_bench`'s very statements (`FILL_TELEMETRY`, ... the same
   generated fleet), minus `projections.partitions.ensure`: the hypertables make their
   chunks on insert. The "full re-aggregation" is `refresh_continuous_aggregate` over
   the whole history, plus the delivery outcomes' REFRESH, as `refresh_rollups(full)`
   does both on PostgreSQL.
2. Disk: `hypertable_size` of `telemetry` and `tracking` (every chunk, its indexes and
   TOAST) and of the aggregate's materialization hypertable; `pg_total_relation_size`
   of the plain tables.
3. The same queries (`history_bench.queries` and `NOTEBOOK_QUERIES`, one copy), fewer
   repeats by default (`--repeat 20`).
4. The sink's rows/s: the sink's own `PostgresWriter` with the insert writer
   (`writer="insert"`, what the sink runs on this server). "While queries run": the
   server takes one connection, so the operators' queries run on the writer's own
   connection between batches (`PostgresWriter.on_connection`, as the insert writer's
   sink runs its refreshes), `--query-rounds-per-s` rounds a second. On PostgreSQL
   they run on a second connection, concurrently; here the server is one thread, so
   concurrent clients would take turns anyway.
5. The roll-up refresh: 30 s of the fleet's fixes through the writer (stamped in the
   recent past: a continuous aggregate is refreshed up to now), then
   `refresh_continuous_aggregate` over exactly the minutes they fall in (what the
   refresh policy does every minute on a real server) and the outcomes' REFRESH,
   three times.
6. Compression, then retention: `compress_chunk` of the history's older hour (what the
   compression policy does after 3 hours on a real server), bytes before and after;
   then `drop_chunks` on `telemetry` and `tracking` with the same rule as the
   PostgreSQL run (cut-off at the start of the history's last hour: the older hour
   goes, compressed, as a real server's retention drops compressed chunks), timed.

Run from the repository root (Node and `npm ci` in projections/conformance):
`python benchmarks/history_bench_timescale.py --fixes 0 1000000 --drones 1000
--out benchmarks/results/history-issue18/timescale-wasm`; its `history_*.json` are in
`history_bench`'s shape with `"label": "TimescaleDB (WASM)"`, so
`python benchmarks/history_bench.py --render <postgres folder> <this folder>` puts
them beside the PostgreSQL columns.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import IO, Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import history_bench as hb
from aiokafka.structs import TopicPartition

from projections.insert_writer import Conn
from projections.migrate import migrate
from projections.partitions import TELEMETRY as TELEMETRY_PARTS
from projections.rollups import refresh_rollups_on
from projections.rows import TELEMETRY, TableLayout
from projections.settings import ProjectionsSettings
from projections.sink import PostgresWriter, SinkStats
from tests.support.timescale_server import connection, retried, timescale_server

LABEL = "TimescaleDB (WASM)"
HYPERTABLES = ("telemetry", "tracking")
PLAIN_TABLES = ("delivery_events", "drone_latest", "delivery_current")
ROLLUP = "drone_minute_stats"
OPERATORS = ("operator", "socket")  # the readers `history_bench.sink_under_queries` runs
Query = tuple[str, str, str, tuple[Any, ...]]


def fill(url: str, fixes: int, drones: int, log: Callable[[str], None]) -> dict[str, Any]:
    """`history_bench.fill` on TimescaleDB: the same statements, chunks instead of partitions."""
    start, end, seconds = hb.history_window(fixes, drones)
    started = time.perf_counter()
    with connection(url) as conn:
        conn.autocommit = True
        step = max(1, 500_000 // drones)
        for s0 in range(0, seconds, step):
            s1 = min(seconds, s0 + step)
            params = {"s0": s0, "s1": s1, "drones": drones, "start": start}
            conn.execute(hb.FILL_TELEMETRY, params)
            conn.execute(hb.FILL_TRACKING, params)
            if s0 // step % 10 == 0:
                log(f"  filled {s1 * drones:,} fixes ({time.perf_counter() - started:.0f} s)")
        if fixes > drones:
            conn.execute(
                hb.FILL_EVENTS,
                {"drones": drones, "cycles": seconds // hb.CYCLE_S + 1, "start": start, "end": end},
            )
        conn.execute(hb.LATEST, {"last": end - timedelta(seconds=1)})
        conn.execute(hb.CURRENT_FOLD)
        conn.execute(hb.CURRENT_TRACKING)
        fill_s = time.perf_counter() - started
        refresh_started = time.perf_counter()
        conn.execute(f"CALL refresh_continuous_aggregate('{ROLLUP}', NULL, NULL)")
        refresh_rollups_on(conn)
        full_refresh_s = time.perf_counter() - refresh_started
        conn.execute("VACUUM ANALYZE")
        counts = {
            table: _count(conn, table)
            for table in (
                *HYPERTABLES,
                "delivery_events",
                "drone_latest",
                "delivery_current",
                ROLLUP,
            )
        }
        chunks = {table: len(chunk_names(conn, table)) for table in HYPERTABLES}
    return {
        "history_start": start.isoformat(),
        "history_end": end.isoformat(),
        "fill_s": round(fill_s, 1),
        "full_rollup_refresh_s": round(full_refresh_s, 2),
        "rows": counts,
        "chunks": chunks,
    }


def _count(conn: Conn, table: str) -> int:
    found = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
    return int(str(found[0])) if found else 0


def chunk_names(conn: Conn, table: str) -> list[str]:
    """The hypertable's chunks, oldest first."""
    return [
        str(row[0])
        for row in conn.execute(
            "SELECT chunk_name FROM timescaledb_information.chunks"
            " WHERE hypertable_name = %s ORDER BY range_start",
            (table,),
        )
    ]


def disk(conn: Conn) -> dict[str, int]:
    """Bytes (heap, indexes, TOAST) of each table `history_bench.disk` reports, here."""
    sizes = {}
    for table in HYPERTABLES:
        sizes[table] = _bytes(conn, "SELECT hypertable_size(%s::regclass)", table)
    sizes[ROLLUP] = _bytes(conn, "SELECT hypertable_size(%s::regclass)", materialization(conn))
    for table in PLAIN_TABLES:
        sizes[table] = _bytes(conn, "SELECT pg_total_relation_size(%s::regclass)", table)
    return sizes


def _bytes(conn: Conn, query: str, name: str) -> int:
    found = conn.execute(query, (name,)).fetchone()
    return int(str(found[0])) if found and found[0] is not None else 0


async def write_with_queries(
    settings: ProjectionsSettings,
    rows: list[tuple[Any, ...]],
    batch: int,
    query_set: list[Query],
    rounds_per_s: float,
) -> tuple[float, int]:
    """The writer's batches, with a round of the operators' queries between batches when due.

    Returns (seconds, queries run). The rounds run on the writer's connection
    (`on_connection`): the server takes no second one. They are due `rounds_per_s`
    times a second of the run, as on PostgreSQL; a round that falls due during a batch
    runs after it (one round at most per gap: a slow round is not run twice to catch up).
    """
    operators = [(sql, params) for reader, _, sql, params in query_set if reader in OPERATORS]
    stats = SinkStats()
    writer = PostgresWriter(settings, stats)
    partition = TopicPartition("bench-accepted-telemetry", 0)
    ran = 0

    def one_round(conn: Conn) -> int:
        for sql, params in operators:
            conn.execute(sql, params).fetchall()
        return len(operators)

    started = time.perf_counter()
    due = started
    try:
        for i in range(0, len(rows), batch):
            chunk: dict[TableLayout, list[tuple[Any, ...]]] = {TELEMETRY: rows[i : i + batch]}
            await writer.write(chunk, {partition: i + batch})
            if rounds_per_s > 0 and time.perf_counter() >= due:
                ran += await writer.on_connection(one_round)
                due = max(due + 1 / rounds_per_s, time.perf_counter())
    finally:
        await writer.close()
    return time.perf_counter() - started, ran


def sink_run(
    url: str,
    drones: int,
    seconds: float,
    batch: int,
    first_second: int,
    query_set: list[Query],
    rounds_per_s: float,
    rows_per_s_guess: float,
    later_s: float = 0.0,
) -> dict[str, Any]:
    """`history_bench.sink_under_queries` here: rows for about `seconds` at the guessed rate."""
    settings = ProjectionsSettings(database_url=url, writer="insert", batch_max_rows=batch)
    rounds = max(1, int(seconds * rows_per_s_guess / drones))
    at = datetime.now(UTC) + timedelta(seconds=later_s)
    rows = hb.fleet_rows(drones, rounds, first_second, at)
    took, ran = asyncio.run(write_with_queries(settings, rows, batch, query_set, rounds_per_s))
    return {
        "sink_rows": len(rows),
        "sink_s": round(took, 2),
        "sink_rows_per_s": round(len(rows) / took),
        "query_rounds_per_s": rounds_per_s,
        "queries_meanwhile": ran,
    }


def incremental_refresh(
    url: str, drones: int, first_second: int, batch: int, times: int = 3
) -> dict[str, Any]:
    """30 s of the fleet's fixes through the writer, then the aggregate's refresh of them.

    The fixes are stamped in the recent past, one set per minute back from now (a
    continuous aggregate is materialized up to now, and the refresh policy's window
    ends a minute before it), so each refresh materializes exactly the minutes that
    received them, as the policy would.
    """
    settings = ProjectionsSettings(database_url=url, writer="insert", batch_max_rows=batch)
    minutes_ms, outcomes_ms, redone, materialized = [], [], 0, 0
    for i in range(times):
        at = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=times + 2 - i)
        rows = hb.fleet_rows(drones, 30, first_second + 1000 * (i + 1), at)
        asyncio.run(hb.write_through_sink(settings, rows, batch))
        lo = at
        hi = (at + timedelta(seconds=30)).replace(second=0) + timedelta(minutes=1)
        redone = int((hi - lo).total_seconds() // 60)
        with connection(url) as conn:
            conn.autocommit = True
            started = time.perf_counter()
            conn.execute(f"CALL refresh_continuous_aggregate('{ROLLUP}', %s, %s)", (lo, hi))
            minutes_ms.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            conn.execute("REFRESH MATERIALIZED VIEW CONCURRENTLY delivery_hourly_outcomes")
            outcomes_ms.append((time.perf_counter() - started) * 1000)
            materialized = _count_where(conn, lo, hi)
    return {
        "minutes_redone_last": redone,
        "rows_materialized_last": materialized,
        "minute_stats_refresh_ms": [round(t, 1) for t in minutes_ms],
        "minute_stats_refresh_p50_ms": round(statistics.median(minutes_ms), 1),
        "hourly_outcomes_refresh_ms": [round(t, 1) for t in outcomes_ms],
        "hourly_outcomes_refresh_p50_ms": round(statistics.median(outcomes_ms), 1),
    }


def _count_where(conn: Conn, lo: datetime, hi: datetime) -> int:
    """Rows of the aggregate's materialization hypertable in [lo, hi): what a refresh wrote."""
    counted = conn.execute(
        f"SELECT count(*) FROM {materialization(conn)} WHERE minute >= %s AND minute < %s",
        (lo, hi),
    ).fetchone()
    return int(str(counted[0])) if counted else 0


def materialization(conn: Conn) -> str:
    """The qualified name of the hypertable the continuous aggregate materializes into."""
    found = conn.execute(
        "SELECT format('%%I.%%I', materialization_hypertable_schema,"
        " materialization_hypertable_name)"
        " FROM timescaledb_information.continuous_aggregates WHERE view_name = %s",
        (ROLLUP,),
    ).fetchone()
    assert found is not None, "no continuous aggregate: not the TimescaleDB schema"
    return str(found[0])


def retention(url: str, history_end: datetime) -> dict[str, Any]:
    """`history_bench.retention`'s rule with `drop_chunks`: the cut-off is the last hour's start.

    On PostgreSQL `maintain` runs with its clock 30 minutes past the start of the
    history's last hour and a 30-minute retention; the same cut-off here drops the
    chunks that end before it (the retention policy's job calls `drop_chunks` so).
    """
    cutoff = TELEMETRY_PARTS.start_of(history_end)
    with connection(url) as conn:
        conn.autocommit = True
        before_rows = _count(conn, "telemetry")
        before = disk(conn)
        held = chunk_names(conn, "telemetry")
        ranges = {
            f"{schema}.{name}": f"{table} [{lo:%H:%M}, {hi:%H:%M})"
            for schema, name, table, lo, hi in conn.execute(
                "SELECT chunk_schema, chunk_name, hypertable_name, range_start, range_end"
                " FROM timescaledb_information.chunks WHERE hypertable_name = ANY(%s)",
                (list(HYPERTABLES),),
            )
        }
        started = time.perf_counter()
        dropped = [
            str(row[0])
            for table in HYPERTABLES
            for row in conn.execute(
                "SELECT drop_chunks(%s::regclass, older_than => %s)", (table, cutoff)
            ).fetchall()
        ]
        took = time.perf_counter() - started
        after_rows = _count(conn, "telemetry")
        after = disk(conn)
    return {
        "telemetry_partitions_before": held,
        "cutoff": cutoff.isoformat(),
        "dropped": [ranges.get(name, name) for name in dropped],
        "skipped": [],
        "telemetry_rows_removed": before_rows - after_rows,
        "bytes_removed": {t: before[t] - after[t] for t in before},
        "maintain_s": round(took, 2),
    }


def compression(url: str, history_end: datetime) -> dict[str, Any]:
    """`compress_chunk` of the hour before the history's last, each hypertable: bytes before, after.

    What the compression policy does to a chunk 3 hours old on a real server (0070).
    That hour holds history only (the sink phases' fixes are all later), and it is the
    one `retention` then drops: on a real server too retention drops compressed chunks
    (compressed after 3 hours, dropped after 7 days). A history within one hour (N = 0)
    has no such chunk: nothing is compressed.
    """
    hour = TELEMETRY_PARTS.start_of(history_end) - timedelta(hours=1)
    result: dict[str, Any] = {"hour": hour.isoformat()}
    with connection(url) as conn:
        conn.autocommit = True
        for table in HYPERTABLES:
            found = conn.execute(
                "SELECT format('%%I.%%I', chunk_schema, chunk_name)"
                " FROM timescaledb_information.chunks"
                " WHERE hypertable_name = %s AND range_start = %s",
                (table, hour),
            ).fetchone()
            if found is None:
                result[table] = None
                continue
            rows = _count_in(conn, table, hour)
            started = time.perf_counter()
            conn.execute("SELECT compress_chunk(%s::regclass)", (found[0],))
            took = time.perf_counter() - started
            stats = conn.execute(
                "SELECT before_compression_total_bytes, after_compression_total_bytes"
                " FROM chunk_compression_stats(%s::regclass)"
                " WHERE format('%%I.%%I', chunk_schema, chunk_name) = %s",
                (table, found[0]),
            ).fetchone()
            before_b, after_b = (int(str(v)) for v in stats) if stats else (0, 0)
            per_million = 1_000_000 / max(1, rows)
            result[table] = {
                "rows": rows,
                "compress_s": round(took, 2),
                "bytes_before": before_b,
                "bytes_after": after_b,
                "bytes_per_million_before": round(before_b * per_million),
                "bytes_per_million_after": round(after_b * per_million),
            }
    return result


def _count_in(conn: Conn, table: str, hour: datetime) -> int:
    found = conn.execute(
        f"SELECT count(*) FROM {table} WHERE observed_at >= %s AND observed_at < %s",
        (hour, hour + timedelta(hours=1)),
    ).fetchone()
    return int(str(found[0])) if found else 0


def server_memory() -> dict[str, int]:
    """The Node server's resident and peak memory (kB): what the WASM build holds.

    Found as this process's child running serve.mjs; empty if it cannot be read.
    """
    me = os.getpid()
    for task in Path(f"/proc/{me}/task").iterdir():
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        for child in children:
            try:
                if "serve.mjs" not in Path(f"/proc/{child}/cmdline").read_text():
                    continue
                status = Path(f"/proc/{child}/status").read_text().splitlines()
            except OSError:
                continue
            fields = dict(line.split(":", 1) for line in status if ":" in line)
            return {key: int(fields[key].split()[0]) for key in ("VmRSS", "VmHWM") if key in fields}
    return {}


def measure_one(
    url: str,
    fixes: int,
    filled: dict[str, Any],
    args: argparse.Namespace,
    log: Callable[[str], None],
) -> dict[str, Any]:
    """`history_bench.measure_one` on TimescaleDB, in the same order and the same shape."""
    result: dict[str, Any] = {"label": LABEL, "fixes": fixes, "drones": args.drones}
    result["fill"] = filled
    start = datetime.fromisoformat(filled["history_start"])
    end = datetime.fromisoformat(filled["history_end"])
    with connection(url) as conn:
        conn.autocommit = True
        query_set = hb.sizes_and_queries(conn, filled, disk, result)
        measured = []
        log(f"N = {fixes:,}: queries")
        for reader, name, sql, params in query_set:
            times, rows = hb.timed(conn, sql, params, args.repeat, args.budget_s)
            measured.append(hb._summary(reader, name, times, rows))
        for reader, name, sql, params in hb.NOTEBOOK_QUERIES:
            times, rows = hb.timed(conn, sql, params, args.heavy_repeat, args.budget_s)
            measured.append(hb._summary(reader, name, times, rows))
        result["queries"] = measured
    last = int((end - start).total_seconds()) + 10
    sink_runs, alone_runs = [], []
    for run in range(args.sink_runs):  # alternated, as on PostgreSQL
        common = (url, args.drones, args.sink_seconds, args.batch)
        log(f"N = {fixes:,}: sink with queries between batches ({run + 1} of {args.sink_runs})")
        sink_runs.append(
            sink_run(
                *common,
                last + 200_000 * run,
                query_set,
                args.query_rounds_per_s,
                args.sink_rate_guess,
            )
        )
        log(f"N = {fixes:,}: sink alone ({run + 1} of {args.sink_runs})")
        alone_runs.append(
            sink_run(
                *common,
                last + 200_000 * run + 50_000,
                query_set,
                0.0,
                args.sink_rate_guess,
                600.0 + 1200.0 * run,
            )
        )
    result["sink"] = hb._median_run(sink_runs)
    result["sink_alone"] = hb._median_run(alone_runs)
    log(f"N = {fixes:,}: roll-up refresh")
    result["rollup"] = incremental_refresh(
        url, args.drones, last + 200_000 * args.sink_runs, args.batch
    )
    log(f"N = {fixes:,}: compression")
    result["compression"] = compression(url, end)
    log(f"N = {fixes:,}: retention")
    result["retention"] = retention(url, end)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--fixes", type=int, nargs="+", default=[0, 1_000_000])
    parser.add_argument("--drones", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--heavy-repeat", type=int, default=3)
    parser.add_argument("--budget-s", type=float, default=10.0, help="per query, after 3 runs")
    parser.add_argument("--sink-seconds", type=float, default=10.0)
    parser.add_argument(
        "--sink-rate-guess",
        type=float,
        default=15_000.0,
        help="rows/s the insert writer is expected to make here (sizes each sink run)",
    )
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--query-rounds-per-s", type=float, default=4.0)
    parser.add_argument("--sink-runs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)

    def log(line: str) -> None:
        print(f"# {datetime.now(UTC):%H:%M:%S} {line}", file=sys.stderr, flush=True)

    results = []
    load_at_start = os.getloadavg()
    for n in args.fixes:
        server_log: IO[str] = (
            (args.out / f"server_{n}.log").open("w") if args.out else open(os.devnull, "w")  # noqa: SIM115
        )
        with server_log, timescale_server(timeout_s=120.0, log=server_log) as url:
            log(f"N = {n:,}: server up, migrating")
            retried(partial(migrate, url))
            log(f"N = {n:,}: filling")
            filled = fill(url, n, args.drones, log)
            filled["filled_at"] = datetime.now(UTC).isoformat()
            filled["load_average_after"] = os.getloadavg()
            filled["server_memory_kb"] = server_memory()
            result = measure_one(url, n, filled, args, log)
            result["server_memory_kb"] = server_memory()
            result["load_average_after"] = os.getloadavg()
        results.append(result)
        print(json.dumps(result), flush=True)
        if args.out:
            (args.out / f"history_{n}.json").write_text(json.dumps(result, indent=1) + "\n")
    hb.write_summary(
        args.out,
        args.fixes,
        {"label": LABEL, "machine": {"load_average_at_start": load_at_start}},
    )


if __name__ == "__main__":
    main()
