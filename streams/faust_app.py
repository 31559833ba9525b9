"""The Faust `App` with an idempotent, acks=all producer under at-least-once processing.

faust-streaming turns on `enable_idempotence` only inside transactions (its experimental
exactly-once mode, which we do not use). Without it, a producer retry after a lost ack
can write a record twice or out of order. This app gives every producer it creates
`acks=all` and `enable_idempotence=True`, so retries stay exactly-once per partition
while processing stays at-least-once (the processors are idempotent for redelivery).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import faust
from faust.transport.drivers import aiokafka as aiokafka_driver


class IdempotentProducer(aiokafka_driver.Producer):
    """The aiokafka-backed producer, always with acks=all and idempotence."""

    def _settings_extra(self) -> Mapping[str, Any]:
        return {"acks": "all", "enable_idempotence": True}


class IdempotentTransport(aiokafka_driver.Transport):
    """The aiokafka transport, producing through `IdempotentProducer`."""

    Producer = IdempotentProducer


class DronefleetApp(faust.App):
    """faust.App whose transports create idempotent producers."""

    def _new_transport(self) -> IdempotentTransport:
        return IdempotentTransport(self.conf.broker_consumer, self)

    def _new_producer_transport(self) -> IdempotentTransport:
        return IdempotentTransport(self.conf.broker_producer, self)
