"""Replay speed: events per second of `dronefleet-projections rebuild` over a telemetry topic.

Why this exists: a rebuild replays the whole log, so its speed decides how long a fixed
read model takes to reach production (200,000 events is about 3 minutes of a 1,000-drone
fleet at 1 Hz; a day is 86 million). It runs the real `projections.rebuild.rebuild` on a
fresh, migrated database of the local stack with a topic pre-filled with N fixes (4
partitions, 1,000 drones): shadow schema and migrations, replay from offset 0 to the end
offsets through the sink's writer, roll-up refresh, locked catch-up (nothing to catch up
here, no live sink) and the swap. "replay" is the replay phase alone; "total" is the
whole command. Run from the repository root with the stack up:
`python benchmarks/replay_bench.py [--rows 200000]`.
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

from sink_bench import delete_topics, fill, fixes, written

from contracts import Topics
from devstack import stack
from devstack.postgres import PostgresNode
from devstack.settings import StackSettings
from projections.migrate import migrate
from projections.rebuild import Progress, rebuild
from projections.settings import ProjectionsSettings


def show(progress: Progress) -> None:
    print(progress.line(), file=sys.stderr, flush=True)


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
    database = f"bench_replay_{secrets.token_hex(4)}"
    node.ensure_database(database)
    dsn = settings.dsn_for(database)
    migrate(dsn)
    try:
        asyncio.run(fill(settings.kafka_bootstrap, topics.accepted_telemetry.name, fixes(n)))
        result = asyncio.run(
            rebuild(
                ProjectionsSettings(
                    kafka_bootstrap=settings.kafka_bootstrap,
                    topic_prefix=prefix,
                    database_url=dsn,
                ),
                on_progress=show,
            )
        )
        rows, checkpoint_sum = written(dsn)
        assert rows == n and checkpoint_sum == n, (rows, checkpoint_sum)
    finally:
        node.drop_database(database)
        asyncio.run(delete_topics(settings.kafka_bootstrap, topics))
    print(
        json.dumps(
            {
                "events": result.events,
                "replay_s": round(result.replay_s, 3),
                "replay_events_per_s": round(result.events_per_s),
                "total_s": round(result.total_s, 3),
                "total_events_per_s": round(n / result.total_s),
                "python": platform.python_version(),
            }
        )
    )


if __name__ == "__main__":
    main()
