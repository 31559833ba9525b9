"""The airspace the worker follows: the ETA's routes, and dispatch's copy in its topic.

Read like the API reads it (`kafkaio.last_value.follow_retrying` on the compacted
`airspace` topic, no consumer group): every worker holds the airspace in force in
memory. Two users, two ways (issue 19, docs/decisions/0002-airspace.md):

- the deliveries stage plans each delivery's route from it (`AirspaceInForce`), once per
  drone; the route is then kept in the delivery's tracking memory;
- dispatch decides, so it must decide the same on a rebuild: it does not read this
  memory but the `AirspacePublished` records the group's leader copies into the dispatch
  topic with its liveness ticks (`streams.runtime.worker.add_liveness_timer`), at the
  place in its log where they took effect.
"""

from __future__ import annotations

import asyncio
import logging

from contracts import AirspacePublished, AirspaceRules, DecodeError
from contracts.codec import decode_as
from kafkaio.connection import Broker
from kafkaio.last_value import follow_retrying
from streams.processors.tracking_emitter import AirspaceInForce

log = logging.getLogger(__name__)


class AirspaceFollower:
    """The latest airspace read: as rules for the routes, and as the record itself."""

    def __init__(self, bootstrap: Broker, topic: str, in_force: AirspaceInForce) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.in_force = in_force
        self.latest: bytes | None = None
        """The last airspace record read, as written (what the leader copies to dispatch)."""
        self.copied: bytes | None = None
        """The last record this process copied into the dispatch topic (as its leader)."""

    def uncopied(self) -> bytes | None:
        """The airspace record to copy into the dispatch topic, if not copied yet.

        A new leader copies the one in force once more: dispatch ignores a copy of what it
        has (`DispatchProcessor._on_airspace`), and it costs one record per leadership.
        """
        return self.latest if self.latest is not None and self.latest != self.copied else None

    async def follow(self) -> None:
        """Follow the topic until cancelled, from the start again after a broker error."""
        await follow_retrying(
            self.bootstrap, self.topic, self.on_value, asyncio.Event(), what="the airspace"
        )

    def on_value(self, value: bytes) -> None:
        """A readable airspace replaces the one in force; anything else is logged, skipped."""
        try:
            event = decode_as(value, AirspacePublished)
        except DecodeError as error:
            log.error("an airspace record was skipped: %s", error)
            return
        self.in_force.rules = AirspaceRules(event)
        self.latest = value
        log.info("airspace %r v%d in force", event.name, event.sequence)
