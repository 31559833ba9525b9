"""`dronefleet-streams lag --serve PORT`: consumer groups' lag as Prometheus metrics.

Why a process of its own and not each consumer's own metrics: the alerts on lag must
fire when a consumer has stopped, and a stopped (or stalled, or crashed) consumer serves
no metrics. What Kafka knows about a group, its committed offsets against the ends of
its partitions, stays true whoever is alive; this reads it every `every_s` and serves
the last reading (like kafka-exporter or Burrow, with the platform's groups and the
offsets reader every lag tool here shares, `kafkaio.offsets`).

It serves, per group, topic and partition:
- `dronefleet_consumer_lag_records`: records not yet committed by the group;
- `dronefleet_consumer_committed_offset`: its committed offset (Prometheus's `changes()`
  over it tells a partition that stopped moving: the stuck-partition alert);
- `dronefleet_partition_end_offset`: the partition's end;
and `dronefleet_lag_exporter_polls` (by outcome, `ok` or `error`), so that an exporter
that cannot read Kafka is seen, not taken for zero lag.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from kafkaio.connection import Broker
from kafkaio.offsets import group_offsets
from runtime import Probes, ProbeServer, beat_forever
from streams.ops.lag_watchdog import PartitionLag, snapshot

log = logging.getLogger(__name__)


@dataclass
class LagReadings:
    """The last reading of each group, and how the polls went."""

    groups: dict[str, list[PartitionLag]] = field(default_factory=dict)
    polls: dict[str, int] = field(default_factory=lambda: {"ok": 0, "error": 0})

    def ready(self) -> str | None:
        """Ready once Kafka has answered once: before that the lag would read as zero."""
        return None if self.polls["ok"] else "Kafka has not answered a lag reading yet"


class LagCollector(Collector):
    """Serves the last readings when Prometheus scrapes (no Kafka call at scrape time)."""

    def __init__(self, readings: LagReadings) -> None:
        self.readings = readings

    def collect(self) -> Iterator[Metric]:
        """Lag, committed offset and end offset per group, topic and partition; the polls."""
        labels = ["group", "topic", "partition"]
        lag = GaugeMetricFamily(
            "dronefleet_consumer_lag_records",
            "Records of the partition the consumer group has not committed yet.",
            labels=labels,
        )
        committed = GaugeMetricFamily(
            "dronefleet_consumer_committed_offset",
            "The consumer group's committed offset on the partition (0: nothing committed).",
            labels=labels,
        )
        end = GaugeMetricFamily(
            "dronefleet_partition_end_offset",
            "The offset the partition's next record will get (its high watermark).",
            labels=labels,
        )
        for group, partitions in sorted(dict(self.readings.groups).items()):
            for p in partitions:
                values = [group, p.topic, str(p.partition)]
                lag.add_metric(values, p.lag)
                committed.add_metric(values, p.committed or 0)
                end.add_metric(values, p.end)
        polls = CounterMetricFamily(
            "dronefleet_lag_exporter_polls",
            "Readings of the groups' offsets from Kafka, by outcome (ok, error).",
            labels=["outcome"],
        )
        for outcome, count in sorted(self.readings.polls.items()):
            polls.add_metric([outcome], count)
        yield from (lag, committed, end, polls)


async def poll_once(bootstrap: Broker, groups: Sequence[str], readings: LagReadings) -> None:
    """Read every group's committed and end offsets into `readings` (all or none)."""
    fresh = {group: snapshot(*await group_offsets(bootstrap, group)) for group in groups}
    readings.groups = fresh
    readings.polls["ok"] += 1


async def poll_forever(
    bootstrap: Broker, groups: Sequence[str], readings: LagReadings, every_s: float
) -> None:
    """Poll every `every_s` until cancelled; a failed poll is counted and logged, never fatal."""
    while True:
        try:
            await poll_once(bootstrap, groups, readings)
        except Exception as error:  # a broker away, a coordinator moving: try again
            readings.polls["error"] += 1
            log.warning("reading the groups' offsets failed: %s", error)
        await asyncio.sleep(every_s)


async def serve(
    bootstrap: Broker, groups: Sequence[str], host: str, port: int, every_s: float
) -> None:
    """Serve the groups' lag on `port` (with `/healthz` and `/readyz`) until cancelled."""
    readings = LagReadings()
    registry = CollectorRegistry()
    registry.register(LagCollector(readings))
    probes = Probes(registry, ready=readings.ready)
    server = ProbeServer(probes, host, port)
    log.info("serving the lag of %s on %s:%d", ", ".join(groups), host, server.port)
    try:
        await asyncio.gather(
            beat_forever(probes.heartbeat), poll_forever(bootstrap, groups, readings, every_s)
        )
    finally:
        server.close()
