"""Every place the worker bends Faust's private internals, and why; nowhere else does.

Each bend overrides something faust-streaming does not offer publicly, and each has a
test (tests/unit/streams/runtime/test_faust_bends.py) that fails when a Faust or aiokafka
upgrade changes what it relies on: the private method's name and signature, the
attribute it reads. Where a public API does the job, it is used instead (the stages
start as a `faust.Worker` service, not from an overridden `App.on_start`).

1. `IdempotentProducer._settings_extra`: faust-streaming turns on `enable_idempotence`
   only inside transactions (its experimental exactly-once mode, which we do not use).
   Without it, a producer retry after a lost ack can write a record twice or out of
   order. Every producer of this app gets `acks=all` and `enable_idempotence=True`, so
   retries stay exactly-once per partition while processing stays at-least-once (the
   processors are idempotent for redelivery).
2. `IdempotentProducer.on_start`: the changelogs' partition metadata, from the start
   (its docstring says why).
3. `BackpressuredConsumer.on_buffer_full`: never take a partition out of the fetcher.
4. `DronefleetApp._new_transport` and `_new_producer_transport`: the app's transports
   are `IdempotentTransport`, which carries 1-3 (Faust picks a transport class by the
   broker URL's scheme and has no setting for one of our own).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import faust
from faust.transport.drivers import aiokafka as aiokafka_driver

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
    partition then stays out of the fetcher forever while the agent waits on an empty
    queue, and its committed offset freezes (measured when the telemetry gate was still a
    Faust agent: four partitions stuck at offset 44 of 2,500 for minutes, worker idle).
    The dispatcher's agent, the one left, fills its queue the same way when it catches
    up on a backlog (after a reset, or a worker down for a while). Without the pause, a
    full queue blocks the fetcher on `queue.put` instead, which is the same backpressure
    without the bookkeeping that loses partitions.
    """

    def on_buffer_full(self, tp: Any) -> None:
        """Keep fetching the partition; the full queue's `put` holds the fetcher back."""


class IdempotentTransport(aiokafka_driver.Transport):
    """The aiokafka transport: idempotent producer, consumer that never drops partitions."""

    Producer = IdempotentProducer
    Consumer = BackpressuredConsumer


class DronefleetApp(faust.App):
    """faust.App whose transports create idempotent producers and never-pausing consumers.

    Everything else is Faust's: it is configured by constructor arguments alone, and what
    runs beside it (the batched stages) is a service of the worker
    (`streams.runtime.stages_service`), not part of the app.
    """

    def _new_transport(self) -> IdempotentTransport:
        return IdempotentTransport(self.conf.broker_consumer, self)

    def _new_producer_transport(self) -> IdempotentTransport:
        return IdempotentTransport(self.conf.broker_producer, self)
