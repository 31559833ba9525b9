"""Every table of a stream worker: its name, its changelog topic and partitions, its files.

One source for the worker, which builds the tables, and for the operator tools, which
reset them without building a worker (and without importing Faust, which is slow and
would make `dronefleet-streams reset` a worker in all but name). The dispatcher's tables
are Faust's, whose changelog topics Faust names `{app id}-{table}-changelog`; the
deliveries stage keeps its own tables (`streams.runtime.changelogged_table`) under the
same kind of name, so every changelog of a worker looks alike to an operator.
"""

from __future__ import annotations

from pathlib import Path

from streams.settings import StreamsSettings

DISPATCH_TABLES = ("dispatch-fleet", "dispatch-queue")
"""The dispatcher's Faust tables; one partition each, like the dispatch topic they fold."""

DELIVERIES_TABLES = ("delivery-state", "delivery-tracking", "delivery-parked-commands")
"""The deliveries stage's tables (state, tracking memory, parked commands), partitioned
like the co-partitioned delivery topics."""

FAUST_APP_VERSION = 1
"""The Faust app's `version` setting (never changed): it names the data directory."""


def changelog_topic(settings: StreamsSettings, table: str) -> str:
    """The changelog topic of one of the worker's tables."""
    return f"{settings.app_group}-{table}-changelog"


def changelog_specs(settings: StreamsSettings) -> dict[str, int]:
    """Changelog topic name -> partitions, for every table of the worker."""
    dispatch = settings.topics.dispatch
    return {
        **{changelog_topic(settings, table): dispatch.partitions for table in DISPATCH_TABLES},
        **{changelog_topic(settings, table): settings.partitions for table in DELIVERIES_TABLES},
    }


def local_table_dir(settings: StreamsSettings) -> Path:
    """Where this host keeps the dispatcher's table files (a RocksDB store's data).

    The path Faust would choose itself from `data_dir` (`v{version}/tables` below it);
    the worker passes it to Faust explicitly, so the reset deletes exactly what the
    worker wrote. Absolute, so that neither depends on a later change of directory.
    """
    return settings.data_dir.absolute() / f"v{FAUST_APP_VERSION}" / "tables"
