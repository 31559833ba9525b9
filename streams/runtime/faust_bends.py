"""The Faust `App` with an idempotent, acks=all producer under at-least-once processing.

faust-streaming turns on `enable_idempotence` only inside transactions (its experimental
exactly-once mode, which we do not use). Without it, a producer retry after a lost ack
can write a record twice or out of order. This app gives every producer it creates
`acks=all` and `enable_idempotence=True`, so retries stay exactly-once per partition
while processing stays at-least-once (the processors are idempotent for redelivery).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import faust
from faust.transport.drivers import aiokafka as aiokafka_driver

from runtime import GcFreezeSettings

METADATA_ATTEMPTS = 50
METADATA_RETRY_S = 0.2


class IdempotentProducer(aiokafka_driver.Producer):
    """The aiokafka-backed producer, always with acks=all and idempotence.

    It also tracks every table's changelog topic in its metadata from the start. A table
    with `use_partitioner=True` picks the changelog partition synchronously from the
    producer's cluster metadata (faust's `key_partition`). aiokafka fetches metadata for
    all topics only until its first send, then just for the topics it has sent to; when
    the first send went elsewhere, the changelog had no metadata, every table write raised
    TypeError and no delivery was ever dispatched (found by `make chaos`).
    """

    def _settings_extra(self) -> Mapping[str, Any]:
        return {"acks": "all", "enable_idempotence": True}

    async def on_start(self) -> None:
        """Start the producer, then wait for the changelogs' metadata."""
        await super().on_start()
        changelogs = {table.changelog_topic_name for table in self.app.tables.values()}
        if not changelogs or self._producer is None:
            return
        client = self._producer.client
        await client.set_topics(client._topics | changelogs)
        # A changelog created a moment ago may not have its partitions in that answer yet.
        for _ in range(METADATA_ATTEMPTS):
            missing = [t for t in changelogs if not client.cluster.partitions_for_topic(t)]
            if not missing:
                return
            await asyncio.sleep(METADATA_RETRY_S)
            await client.force_metadata_update()
        raise RuntimeError(f"no partition metadata for changelog topics {sorted(missing)}")


class BackpressuredConsumer(aiokafka_driver.Consumer):
    """The aiokafka-backed consumer, without faust's per-partition fetch pausing.

    When an agent's queue runs high, faust removes the partition from the fetcher and
    counts on a "pressure drop" callback to put it back. That callback can be lost: the
    `telemetry` partitions then stay out of the fetcher forever while the agent waits on
    an empty queue, and their committed offsets freeze (measured: four partitions stuck
    at offset 44 of 2,500 for minutes, worker idle). Without the pause, a full queue
    blocks the fetcher on `queue.put` instead, which is the same backpressure without
    the bookkeeping that loses partitions.
    """

    def on_buffer_full(self, tp: Any) -> None:
        """Keep fetching the partition; the full queue's `put` holds the fetcher back."""


class IdempotentTransport(aiokafka_driver.Transport):
    """The aiokafka transport: idempotent producer, consumer that never drops partitions."""

    Producer = IdempotentProducer
    Consumer = BackpressuredConsumer


class DronefleetApp(faust.App):
    """faust.App whose transports create idempotent producers, hosting the batched stages.

    `stage_changelogs`: the changelog topics (name -> partitions) of the tables kept
    outside Faust by the batched stages, declared and reset along with Faust's own.
    `stage_runs`: the stages' loops. They start with the app, not after it: Faust runs
    its own tasks (`app.task`) only once its consumer group has assigned partitions and
    its tables are recovered, which after a crash means waiting for the broker to drop
    the dead member (the session timeout, 10 s); the stages have their own groups and
    need none of that (measured in `make chaos`: 11 s from restart to processing when
    started as Faust tasks).
    """

    stage_changelogs: dict[str, int] = {}  # noqa: RUF012 (set once per app in bootstrap)
    stage_runs: tuple[Callable[[], Awaitable[None]], ...] = ()
    gc_freezing: GcFreezeSettings | None = None
    """Freeze the collector's live objects now and then (`runtime.gc_freeze`); None: never."""
    serve_metrics: Callable[[], object] | None = None
    """Starts the metrics endpoint (`streams.runtime.metrics`); None: no endpoint."""

    async def on_start(self) -> None:
        """Start Faust, and the stages and the metrics endpoint next to it."""
        await super().on_start()
        if self.serve_metrics is not None:
            self.serve_metrics()
        for run in self.stage_runs:
            self.add_future(run())
        freezing = self.gc_freezing.freezing() if self.gc_freezing is not None else None
        if freezing is not None:
            self.add_future(freezing)

    def _new_transport(self) -> IdempotentTransport:
        return IdempotentTransport(self.conf.broker_consumer, self)

    def _new_producer_transport(self) -> IdempotentTransport:
        return IdempotentTransport(self.conf.broker_producer, self)
