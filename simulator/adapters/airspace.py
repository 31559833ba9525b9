"""Publishing the scenario's airspace on the `airspace` topic, once and idempotently.

The platform publishes its airspace when it starts (`dronefleet-simulator
publish-airspace`, which `dronefleet demo` and `devstack.services.start_platform` run
before the API, and every `dronefleet-simulator run` at its start). Publishing the
same airspace again writes nothing: the topic's last record is read first, and only a
different airspace is written, as the next version (`sequence` + 1). Readers therefore
see a new record only when the airspace changed.
"""

from __future__ import annotations

import contextlib

from aiokafka import AIOKafkaProducer

from contracts import (
    AirspacePublished,
    DecodeError,
    Topics,
    decode_event,
    encode_event,
    utc_now,
)
from kafkaio.connection import Broker, aiokafka_options
from kafkaio.last_value import last_value
from simulator.world.published import airspace_of, same_airspace
from simulator.world.scenario import Scenario


async def publish_airspace(bootstrap: Broker, topics: Topics, scenario: Scenario) -> bool:
    """Make `scenario`'s airspace the one in force; True if a record was written."""
    current: AirspacePublished | None = None
    raw = await last_value(bootstrap, topics.airspace.name)
    if raw is not None:
        with contextlib.suppress(DecodeError):  # an unreadable record is replaced
            event = decode_event(raw)
            current = event if isinstance(event, AirspacePublished) else None
    wanted = airspace_of(scenario, utc_now(), sequence=current.sequence + 1 if current else 1)
    if current is not None and same_airspace(current, wanted):
        return False
    producer = AIOKafkaProducer(**aiokafka_options(bootstrap), acks="all", enable_idempotence=True)
    await producer.start()
    try:
        await producer.send_and_wait(
            topics.airspace.name, encode_event(wanted), key=wanted.airspace_id.encode()
        )
    finally:
        await producer.stop()
    return True
