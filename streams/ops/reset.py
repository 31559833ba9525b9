"""`dronefleet-streams reset`: make the next worker start rebuild every table from the log.

Why: the tables are derived state (the fold of the topics the workers read); when one is
wrong (a bug fixed, a new field, a lost changelog) the cure is to rebuild it from the
log, and the rebuild must equal what the live workers had built. The command changes no
record of the log; it only forgets what was derived from it:

1. It refuses while any member is in the workers' consumer groups (the Faust app's, for
   the dispatcher, and the deliveries stage's): a running worker would go on committing
   offsets and writing changelogs over the reset. Stop the workers first (after a
   SIGKILL the broker drops the dead member after the session timeout).
2. It commits offset 0 for each group on every partition of the input topics of its
   tables (`rebuild_inputs`), so the next worker folds them again from the first record.
3. It deletes the tables' changelog topics and creates them again, empty (compacted,
   same partitions: `streams.runtime.changelogs`). Faust recovers a table from its changelog, so
   a changelog kept would bring the old state back; a truncated one (DeleteRecords) keeps
   its offsets, and a RocksDB store's saved offsets could then point past the new data.
   New topics start at offset 0, which every store recovers from correctly.
4. It deletes this host's local table state (`streams.runtime.tables.local_table_dir`,
   the dispatcher's RocksDB files),
   which would otherwise be trusted over the empty changelog. Run it on every host that
   ran a worker with a persistent store (`--local-only` there), or give each worker its
   own data directory and delete it.

The gate's input, `telemetry`, is not rewound: the gate keeps no table, and its outputs
(valid fixes in `delivery-telemetry`, availability in `dispatch`) are already in the log
that the tables are rebuilt from. Re-reading it would append a second copy of every
routed fix, and would re-validate week-old fixes against today's clock (`too_old`).

A rebuild writes nothing to the log for the records processed before the reset: the
reset stores the group's committed offsets as the rebuild horizon (`streams.runtime.horizon`),
and below it the worker updates its tables but sends nothing, since those outputs are
in the log already. The delivery states, the dispatch queue and the fleet are folds of
ordered logs and come back identical. The tracking memory (smoothed speed, last update,
update count) depends on how the consumer interleaves the co-partitioned topics while catching
up (a cancellation read before the drone's last fixes keeps an earlier position), so
only a finished delivery's final status and drone, and a delivered one's position, are
guaranteed to match. Retention bounds a rebuild:
`delivery-telemetry` keeps a day and `dispatch` a week (the `deliveries` topic, the
system of record, is kept forever).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from contracts import TopicSpec
from kafkaio.admin import admin_client
from kafkaio.connection import Broker
from kafkaio.offsets import committed_offsets
from streams.errors import StreamsError
from streams.ops.consumer_groups import commit_zero, describe_group
from streams.runtime.changelogs import declare_changelogs
from streams.runtime.horizon import raised, read_horizon, write_horizon
from streams.runtime.tables import changelog_specs, local_table_dir
from streams.settings import StreamsSettings

Say = Callable[[str], None]


class WorkersRunningError(StreamsError):
    """The consumer group still has members: a reset would race the running workers."""


def rebuild_inputs(settings: StreamsSettings) -> dict[str, list[TopicSpec]]:
    """Consumer group -> the topics it folds into tables (every input but the gate's)."""
    inputs = settings.group_inputs()
    del inputs[settings.gate_group]  # the gate keeps no table: nothing to fold again
    return inputs


async def recreate_changelogs(
    specs: Mapping[str, int], bootstrap: Broker, say: Say, timeout_s: float = 60
) -> None:
    """Delete the tables' changelog topics, wait until they are gone, create them empty."""
    names = sorted(specs)
    async with admin_client(bootstrap) as admin:
        existing = [name for name in names if name in set(await admin.list_topics())]
        if existing:
            say(f"deleting changelog topics: {', '.join(existing)}")
            await admin.delete_topics(existing)
        deadline = time.monotonic() + timeout_s
        while set(existing) & set(await admin.list_topics()):
            if time.monotonic() > deadline:
                raise StreamsError(f"changelog topics still listed after {timeout_s:.0f}s")
            await asyncio.sleep(0.5)
    created = await declare_changelogs(specs, bootstrap)
    say(f"created empty changelog topics: {', '.join(created)}")


def delete_local_state(tabledir: Path, say: Say) -> None:
    """Remove this host's table files (a RocksDB store's data and saved offsets)."""
    if tabledir.exists():
        shutil.rmtree(tabledir)
        say(f"deleted local table state {tabledir}")
    else:
        say(f"no local table state at {tabledir}")


async def reset(settings: StreamsSettings, say: Say, *, local_only: bool = False) -> None:
    """Reset the workers' group, changelogs and local state (see the module docstring)."""
    groups = rebuild_inputs(settings)
    for group in groups:
        described = await describe_group(settings.kafka, group)
        if described.members:
            raise WorkersRunningError(
                f"consumer group {group} has {len(described.members)} active member(s) "
                f"(state {described.state}): stop every stream worker first; a killed "
                "worker leaves the group after its session timeout"
            )
    if not local_only:
        committed: dict[tuple[str, int], int] = {}
        for group, inputs in groups.items():
            names = [spec.name for spec in inputs]
            committed.update(await committed_offsets(settings.kafka, group, names))
        old = await read_horizon(settings.kafka, settings.app_group)
        await write_horizon(settings.kafka, settings.app_group, raised(old, committed))
        say(
            f"rebuild horizon: {sum(committed.values())} records already processed "
            f"(their outputs are in the log and will not be sent again)"
        )
        for group, inputs in groups.items():
            partitions = await commit_zero(settings.kafka, group, inputs)
            names = [spec.name for spec in inputs]
            say(f"group {group}: offset 0 committed on {partitions} partitions of {names}")
        await recreate_changelogs(changelog_specs(settings), settings.kafka, say)
    delete_local_state(local_table_dir(settings), say)
    say("done: the next worker start rebuilds every table from the log")


def main(args: list[str], settings: StreamsSettings) -> int:
    """Parse the reset command's flags and run it; 1 with a message when workers run."""
    parser = argparse.ArgumentParser(
        prog="dronefleet-streams reset", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--local-only",
        action="store_true",
        help="only delete this host's table state (the group and changelogs were reset)",
    )
    options = parser.parse_args(args)
    try:
        asyncio.run(
            reset(settings, lambda line: print(line, flush=True), local_only=options.local_only)
        )
    except WorkersRunningError as error:
        print(f"refused: {error}", flush=True)
        return 1
    return 0
