"""Create the tables' changelog topics before the worker starts.

Faust declares a table's changelog topic itself at start-up, but its consumer can take
its cluster metadata before the new topic is visible, and then refuses every update of
that table ("changelog topic has 0 partitions") until the metadata ages out. That bites
exactly once, on the first start of a new table (a fresh machine, a new release), which
is the worst time. Declaring the changelogs first, with the same names, partitions and
compaction Faust would use, makes the first start like every other.
"""

from __future__ import annotations

from collections.abc import Mapping

from aiokafka.admin import NewTopic

from kafkaio.admin import admin_client, create_missing_topics
from kafkaio.connection import Broker


async def declare_changelogs(specs: Mapping[str, int], bootstrap: Broker) -> list[str]:
    """Create the missing changelog topics (name -> partitions, compacted); return those created.

    `specs`: every table's, from `streams.runtime.tables.changelog_specs`.
    """
    async with admin_client(bootstrap) as admin:
        # Another worker starting at the same moment may create them first: fine.
        return await create_missing_topics(
            admin,
            [
                NewTopic(
                    name,
                    num_partitions=partitions,
                    replication_factor=1,
                    topic_configs={"cleanup.policy": "compact"},
                )
                for name, partitions in sorted(specs.items())
            ],
        )
