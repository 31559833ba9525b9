"""The airspace the API checks delivery requests against, kept current from its topic.

Read at start and followed for changes (`kafkaio.last_value.follow_values` on the
compacted `airspace` topic): every replica holds the airspace in force, in memory, and
a request is judged without a database or broker round trip (`contracts.airspace`).

No airspace yet (the topic is empty, or not read to its end yet): requests are refused
with 503 and the reason `airspace_unknown` rather than accepted. Accepting them is what
left impossible deliveries waiting forever; the platform publishes its airspace before
it starts the API, so this answer means a platform that was started wrongly, and the
client may try again (docs/decisions/0002-airspace.md).
"""

from __future__ import annotations

import asyncio
import logging

from aiokafka.errors import KafkaError

from api.errors import AirspaceUnknownError, UnservableRequestError
from contracts import AirspacePublished, AirspaceRules, DecodeError, GeoPoint, decode_event
from kafkaio.connection import Broker
from kafkaio.last_value import follow_values

log = logging.getLogger(__name__)

RETRY_MAX_S = 10.0
"""The longest pause before the follower tries the broker again."""


class AirspaceKeeper:
    """The latest `AirspacePublished` read, and the rules built from it."""

    def __init__(self) -> None:
        self.rules: AirspaceRules | None = None

    @property
    def current(self) -> AirspacePublished | None:
        """The airspace in force, if one was read."""
        return self.rules.airspace if self.rules is not None else None

    async def follow(self, bootstrap: Broker, topic: str, caught_up: asyncio.Event) -> None:
        """Follow the topic until cancelled, starting again after a broker error.

        An API started while the broker is away must still learn the airspace once the
        broker is back, not answer 503 for good; reading again from the first record
        changes nothing (the last record wins).
        """
        delay = 0.5
        while True:
            try:
                await follow_values(bootstrap, topic, self.on_value, caught_up)
            except KafkaError as error:
                log.warning("following the airspace failed (%s); again in %.1f s", error, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_S)

    def on_value(self, value: bytes) -> None:
        """Take a record of the topic: a readable airspace replaces the one in force."""
        try:
            event = decode_event(value)
        except DecodeError as error:
            log.error("an unreadable airspace record was skipped: %s", error)
            return
        if not isinstance(event, AirspacePublished):
            log.error("a %s on the airspace topic was skipped", event.event_type)
            return
        self.rules = AirspaceRules(event)
        log.info("airspace %r v%d in force", event.name, event.sequence)

    def check(self, pickup: GeoPoint, dropoff: GeoPoint) -> None:
        """Raise unless some drone could serve this request (422), or if unknown (503)."""
        if self.rules is None:
            raise AirspaceUnknownError(
                "the platform's airspace is not known yet, so the request cannot be judged; "
                "try again shortly"
            )
        refused = self.rules.refusal(pickup, dropoff)
        if refused is not None:
            reason, detail = refused
            raise UnservableRequestError(reason, detail)
