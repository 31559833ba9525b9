"""The airspace the API checks delivery requests against, kept current from its topic.

Read at start and followed for changes (`kafkaio.last_value.follow_retrying` on the
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

from api.errors import AirspaceUnknownError, UnservableRequestError
from contracts import AirspacePublished, AirspaceRules, DecodeError, GeoPoint
from contracts.codec import decode_as
from kafkaio.connection import Broker
from kafkaio.last_value import follow_retrying

log = logging.getLogger(__name__)


class AirspaceKeeper:
    """The latest `AirspacePublished` read, and the rules built from it."""

    def __init__(self) -> None:
        self.rules: AirspaceRules | None = None

    @property
    def current(self) -> AirspacePublished | None:
        """The airspace in force, if one was read."""
        return self.rules.airspace if self.rules is not None else None

    async def follow(self, bootstrap: Broker, topic: str, caught_up: asyncio.Event) -> None:
        """Follow the topic until cancelled, starting again after a broker error."""
        await follow_retrying(bootstrap, topic, self.on_value, caught_up, what="the airspace")

    def on_value(self, value: bytes) -> None:
        """Take a record of the topic: a readable airspace replaces the one in force."""
        try:
            event = decode_as(value, AirspacePublished)
        except DecodeError as error:
            log.error("an airspace record was skipped: %s", error)
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
