"""Each bend of Faust's internals (`streams.runtime.faust_bends`) still has what it relies on.

A bend overrides or reads something faust-streaming (or aiokafka under it) keeps
private. An upgrade may rename it, change its signature or stop calling it, and the bend
would then silently do nothing: these tests fail first. The behaviour each bend buys is
tested too where a unit test can see it (the idempotent producer).
"""

from __future__ import annotations

import asyncio
import inspect

import faust
from aiokafka import AIOKafkaProducer
from aiokafka.client import AIOKafkaClient
from aiokafka.cluster import ClusterMetadata
from faust.transport import conductor
from faust.transport.base import Transport
from faust.transport.consumer import Consumer
from faust.transport.drivers import aiokafka as aiokafka_driver

from streams.runtime.faust_bends import (
    BackpressuredConsumer,
    DronefleetApp,
    IdempotentProducer,
    IdempotentTransport,
)
from streams.runtime.worker import bootstrap
from streams.settings import StreamsSettings


def parameters(function: object) -> list[str]:
    return list(inspect.signature(function).parameters)  # type: ignore[arg-type]


def test_worker_producer_is_idempotent_with_acks_all() -> None:
    async def inspect_producer() -> tuple[object, object]:
        app = bootstrap(StreamsSettings(kafka_bootstrap="localhost:1")).app
        producer = app.producer._new_producer()  # built, never started: no broker needed
        try:
            # aiokafka keeps idempotence state in a transaction manager without an id.
            manager = producer._txn_manager
            return manager, manager.transactional_id if manager else "none"
        finally:
            await producer.stop()

    manager, transactional_id = asyncio.run(inspect_producer())
    assert manager is not None, "enable_idempotence is off"
    assert transactional_id is None, "idempotent, not transactional (no exactly-once mode)"


def test_the_app_asks_for_its_transports_by_the_two_methods_it_overrides() -> None:
    """Bend 4: `App.transport` and `App.producer_transport` call `_new_*transport()`."""
    for name in ("_new_transport", "_new_producer_transport"):
        assert parameters(getattr(faust.App, name)) == ["self"], name
        assert name in DronefleetApp.__dict__
    app = bootstrap(StreamsSettings(kafka_bootstrap="localhost:1")).app
    assert type(app.transport) is IdempotentTransport
    assert type(app.producer_transport) is IdempotentTransport
    assert type(app.producer) is IdempotentProducer


def test_a_transport_builds_its_clients_from_the_classes_it_carries() -> None:
    """`IdempotentTransport` only sets `Producer` and `Consumer`: Faust must use them."""
    assert Transport.Producer is not None and Transport.Consumer is not None
    assert "self.Producer(" in inspect.getsource(Transport.create_producer)
    assert "self.Consumer(" in inspect.getsource(Transport.create_consumer)
    assert IdempotentTransport.Consumer is BackpressuredConsumer


def test_the_producer_settings_are_merged_from_settings_extra() -> None:
    """Bend 1: every aiokafka producer Faust builds takes `_settings_extra()`."""
    assert parameters(aiokafka_driver.Producer._settings_extra) == ["self"]
    assert "self._settings_extra()" in inspect.getsource(aiokafka_driver.Producer._new_producer)


def test_the_producer_start_leaves_what_the_metadata_bend_reads() -> None:
    """Bend 2 reads `_producer` after Faust's start, then the aiokafka client's metadata."""
    assert parameters(aiokafka_driver.Producer.on_start) == ["self"]
    assert "self._producer = self._new_producer()" in inspect.getsource(
        aiokafka_driver.Producer.on_start
    )
    assert parameters(AIOKafkaClient.set_topics) == ["self", "topics"]
    assert parameters(AIOKafkaClient.force_metadata_update) == ["self"]
    assert parameters(ClusterMetadata.partitions_for_topic) == ["self", "topic"]

    async def tracked_topics() -> object:
        producer = AIOKafkaProducer(bootstrap_servers="localhost:1")
        try:
            return producer.client._topics
        finally:
            await producer.stop()

    assert asyncio.run(tracked_topics()) == set(), "the set of topics aiokafka tracks"


def test_faust_pauses_a_full_partition_through_on_buffer_full() -> None:
    """Bend 3: the conductor calls `consumer.on_buffer_full(tp)`, which ours makes a no-op."""
    assert parameters(Consumer.on_buffer_full) == ["self", "tp"]
    assert parameters(BackpressuredConsumer.on_buffer_full) == ["self", "tp"]
    assert "on_buffer_full" in BackpressuredConsumer.__dict__
    assert "app.consumer.on_buffer_full" in inspect.getsource(conductor)
    assert "_buffered_partitions.add" in inspect.getsource(Consumer.on_buffer_full), (
        "Faust still takes the partition out: the bend is still needed"
    )


def test_the_app_class_holds_no_state_of_its_own() -> None:
    """Configured by constructor arguments only: no class attribute shared by every app."""
    own = {name for name in vars(DronefleetApp) if not name.startswith("__")}
    added_to_every_subclass = {"logger", "_abc_impl"}  # by mode's Service and by abc
    assert own - added_to_every_subclass == {"_new_transport", "_new_producer_transport"}
