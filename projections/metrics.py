"""Prometheus metrics and probes of the projection sink.

What an operator asks of the sink: is it keeping up (rows per second by table, the
time a batch's transaction takes), is it stuck (the age of its last checkpoint: the
sink-behind alert pairs it with the sink group's lag from `dronefleet-streams lag
--serve`, since an idle sink's checkpoint ages too), does it refuse input
(undecodable records) and does it lose the database (reconnects). Read from the sink's
`SinkStats` when Prometheus scrapes; served with `/healthz` and `/readyz`
(`runtime.probes`) on `DRONEFLEET_PROJECTIONS_METRICS_PORT`.

Ready means the sink can write: it holds a connection to the database. Kafka needs no
check of its own here: the sink's consumer group's lag says whether it reads.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from projections.sink import SinkStats
from runtime import Probes


class SinkCollector(Collector):
    """Reads the sink's counters when Prometheus scrapes."""

    def __init__(self, stats: SinkStats) -> None:
        self.stats = stats

    def collect(self) -> Iterator[Metric]:
        """Records, rows by table, batches, write seconds, checkpoint time and age, problems."""
        stats = self.stats
        yield CounterMetricFamily(
            "dronefleet_sink_records", "Kafka records the sink consumed.", value=stats.records
        )
        rows = CounterMetricFamily(
            "dronefleet_sink_rows",
            "Rows the sink inserted, by table (repeats it skipped are not counted).",
            labels=["table"],
        )
        for table, count in sorted(dict(stats.by_table).items()):
            rows.add_metric([table], count)
        yield rows
        yield CounterMetricFamily(
            "dronefleet_sink_batches", "Batches written with their checkpoint.", value=stats.batches
        )
        yield CounterMetricFamily(
            "dronefleet_sink_write_seconds",
            "Time the batches' transactions took, summed (divide by the batches' rate).",
            value=stats.write_seconds,
        )
        yield CounterMetricFamily(
            "dronefleet_sink_undecodable_records",
            "Records the sink could not decode and skipped.",
            value=stats.undecodable,
        )
        yield CounterMetricFamily(
            "dronefleet_sink_reconnects",
            "Times the sink lost the database and connected again.",
            value=stats.reconnects,
        )
        if stats.last_checkpoint_at is not None:
            yield GaugeMetricFamily(
                "dronefleet_sink_last_checkpoint_timestamp_seconds",
                "When the sink last committed a batch and its checkpoint (epoch seconds).",
                value=stats.last_checkpoint_at,
            )
            yield GaugeMetricFamily(
                "dronefleet_sink_checkpoint_age_seconds",
                "Seconds since the sink last committed a batch and its checkpoint.",
                value=max(time.time() - stats.last_checkpoint_at, 0.0),
            )
        yield GaugeMetricFamily(
            "dronefleet_sink_database_up",
            "1 while the sink holds a connection to the database.",
            value=1.0 if stats.database_up else 0.0,
        )


def sink_ready(stats: SinkStats) -> str | None:
    """None once the sink holds a database connection, else why it is not ready."""
    return None if stats.database_up else "no connection to the database"


def sink_probes(stats: SinkStats) -> Probes:
    """The sink's probes: its registry, ready while it can write."""
    registry = CollectorRegistry()
    registry.register(SinkCollector(stats))
    return Probes.of_process(registry, ready=lambda: sink_ready(stats))
