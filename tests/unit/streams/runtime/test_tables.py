"""The table names the operator tools use are the tables the worker builds.

`dronefleet-streams reset` derives the changelog topics and the local table directory
from the settings alone (`streams.runtime.tables`), without building a worker; these
tests build one and compare, so the two cannot drift apart.
"""

from __future__ import annotations

from pathlib import Path

import faust

from streams.runtime.stages import DeliveriesStage
from streams.runtime.tables import changelog_specs, local_table_dir
from streams.runtime.worker import bootstrap
from streams.settings import StreamsSettings


def settings() -> StreamsSettings:
    return StreamsSettings(
        kafka_bootstrap="localhost:1", topic_prefix="t-", partitions=3, table_store="memory://"
    )


def test_the_changelog_specs_are_every_table_of_a_built_worker() -> None:
    worker = bootstrap(settings())
    faust_tables = {
        table.changelog_topic_name: table.partitions for table in worker.app.tables.values()
    }
    (deliveries,) = [
        loop.stage for loop in worker.stages.loops if isinstance(loop.stage, DeliveriesStage)
    ]
    stage_tables = {table.changelog_topic: 3 for table in deliveries.tables}
    assert {**faust_tables, **stage_tables} == changelog_specs(settings())
    assert sorted(changelog_specs(settings())) == [
        "t-dronefleet-streams-delivery-parked-commands-changelog",
        "t-dronefleet-streams-delivery-state-changelog",
        "t-dronefleet-streams-delivery-tracking-changelog",
        "t-dronefleet-streams-dispatch-fleet-changelog",
        "t-dronefleet-streams-dispatch-queue-changelog",
    ]


def test_the_local_table_dir_is_where_faust_keeps_the_tables_by_default() -> None:
    configured = settings()
    assert Path(bootstrap(configured).app.conf.tabledir) == local_table_dir(configured)
    # Where Faust put them before the worker named the directory: files stay valid.
    default = faust.App("any", datadir=str(configured.data_dir)).conf.tabledir
    assert Path(default).absolute() == local_table_dir(configured)
