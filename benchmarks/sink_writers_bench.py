"""The sink's two writers on plain PostgreSQL: binary COPY against batched INSERTs.

Why this exists: `DRONEFLEET_PROJECTIONS_WRITER=insert` (`projections.insert_writer`) is
what the sink uses on servers without COPY (the WASM TimescaleDB of CI); this says what
it costs against the default COPY writer, on the same rows in the same run. The topic
is filled once with N fixes (`sink_bench.fixes`: 1,000 drones at 1 Hz); each writer's
sink reads it from the beginning into a fresh, migrated database on the local stack,
timed by `sink_bench.time_sink` (first committed batch to the last row). The writers
alternate (copy, insert, copy, insert, ...) so that the machine's load falls on both.
Run from the repository root with the stack up:
`python benchmarks/sink_writers_bench.py [--rows 100000] [--rounds 2]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import secrets
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sink_bench import delete_topics, fill, fixes, time_sink, written

from contracts import Topics
from devstack import stack
from devstack.postgres import PostgresNode
from devstack.settings import StackSettings
from projections.migrate import migrate
from projections.settings import ProjectionsSettings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--rows-per-statement", type=int, default=1000)
    args = parser.parse_args()
    n: int = args.rows

    settings = StackSettings()
    prefix = f"benchw{secrets.token_hex(3)}-"
    topics = Topics.with_prefix(prefix)
    stack.up(settings, topics)
    node = PostgresNode(settings)
    runs: list[dict[str, object]] = []
    rates: dict[str, list[int]] = {"copy": [], "insert": []}
    try:
        asyncio.run(fill(settings.kafka_bootstrap, topics.accepted_telemetry.name, fixes(n)))
        for round_ in range(args.rounds):
            for writer in ("copy", "insert"):
                assert writer == "copy" or writer == "insert"  # the setting's Literal
                name = f"bench_writer_{writer}_{secrets.token_hex(4)}"
                node.ensure_database(name)
                try:
                    dsn = settings.dsn_for(name)
                    migrate(dsn)
                    sink_settings = ProjectionsSettings(
                        kafka_bootstrap=settings.kafka_bootstrap,
                        topic_prefix=prefix,
                        database_url=dsn,
                        projection=f"{writer}{round_}",
                        writer=writer,
                        insert_rows_per_statement=args.rows_per_statement,
                        rollup_refresh_interval_s=3600.0,  # the writes, not the roll-ups
                    )
                    seconds, rows = asyncio.run(time_sink(sink_settings, n))
                    assert written(dsn)[0] == n
                finally:
                    node.drop_database(name)
                runs.append(
                    {
                        "round": round_ + 1,
                        "writer": writer,
                        "rows_timed": rows,
                        "seconds": round(seconds, 3),
                        "rows_per_s": round(rows / seconds),
                    }
                )
                rates[writer].append(round(rows / seconds))
                print(json.dumps(runs[-1]), flush=True)
    finally:
        asyncio.run(delete_topics(settings.kafka_bootstrap, topics))
    print(
        json.dumps(
            {
                "rows": n,
                "rows_per_statement": args.rows_per_statement,
                "copy_rows_per_s": rates["copy"],
                "insert_rows_per_s": rates["insert"],
                "insert_over_copy": [
                    round(i / c, 2) for c, i in zip(rates["copy"], rates["insert"], strict=True)
                ],
                "python": platform.python_version(),
            }
        )
    )


if __name__ == "__main__":
    main()
