"""The worker's producers are idempotent with acks=all, outside transactions too."""

from __future__ import annotations

import asyncio

from streams.runtime.worker import bootstrap
from streams.settings import StreamsSettings


def test_worker_producer_is_idempotent_with_acks_all() -> None:
    async def inspect() -> tuple[object, object]:
        app = bootstrap(StreamsSettings(kafka_bootstrap="localhost:1"))
        producer = app.producer._new_producer()  # built, never started: no broker needed
        try:
            # aiokafka keeps idempotence state in a transaction manager without an id.
            manager = producer._txn_manager
            return manager, manager.transactional_id if manager else "none"
        finally:
            await producer.stop()

    manager, transactional_id = asyncio.run(inspect())
    assert manager is not None, "enable_idempotence is off"
    assert transactional_id is None, "idempotent, not transactional (no exactly-once mode)"


def test_every_group_of_a_worker_is_named_with_its_inputs_and_reset_leaves_the_gate_out() -> None:
    from streams.ops.reset import rebuild_inputs

    settings = StreamsSettings(topic_prefix="t-")
    inputs = {group: [t.name for t in topics] for group, topics in settings.group_inputs().items()}
    assert inputs == {
        "t-dronefleet-streams": ["t-dispatch"],
        "t-dronefleet-streams-gate": ["t-telemetry"],
        "t-dronefleet-streams-deliveries": [
            "t-deliveries",
            "t-delivery-commands",
            "t-delivery-telemetry",
        ],
    }
    assert settings.groups == list(inputs)
    assert list(rebuild_inputs(settings)) == [
        "t-dronefleet-streams",
        "t-dronefleet-streams-deliveries",
    ]
