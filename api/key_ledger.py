"""Business keys' life after registration: rotations and revocations, folded from the log.

`BusinessKeyRotated` and `BusinessKeyRevoked` are events on the businesses topic (kept
forever), like the registration. Every API process follows that topic from its first
record (`KeyLedger.follow`, the airspace's pattern) and folds them here: the keys issued
by rotations, the keys that retire at the end of their grace, the revoked ones. So a
revocation holds on every replica, after any restart and any rebuild of the read model:
the log says so, not a row someone could delete or a rebuild could bring back.

Authentication (`api.deps`) asks the ledger after the read model: a key id the view does
not have may be one issued by a rotation; a matching key is still refused once revoked
or past its grace. A replica that has not read the event yet (moments) decides as
before it; the API that records an event waits until its own ledger has it, so the
answer's key works at once there.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime

from aiokafka.errors import KafkaError

from api.auth_keys import KnownKey
from contracts import (
    BusinessKeyRevoked,
    BusinessKeyRotated,
    BusinessRegistered,
    DecodeError,
    decode_event,
)
from kafkaio.connection import Broker
from kafkaio.last_value import follow_values

log = logging.getLogger(__name__)

RETRY_MAX_S = 10.0


@dataclass
class KeyLedger:
    """What the businesses topic says about keys beyond the registration's."""

    issued: dict[str, KnownKey] = field(default_factory=dict)
    """Keys issued by rotations, by key id (the read model has only registrations')."""
    owners: dict[str, str] = field(default_factory=dict)
    """Every key id read (registered or rotated in) -> its business."""
    retiring: dict[str, datetime] = field(default_factory=dict)
    """Rotated-out key id -> the end of its grace."""
    revoked: set[str] = field(default_factory=set)
    versions: dict[str, int] = field(default_factory=dict)
    """The newest sequence read per business (the next event's is one more)."""
    read: int = 0
    """Records folded so far (a writer waits until its own event is among them)."""

    def on_value(self, value: bytes) -> None:
        """Fold one record of the businesses topic (unreadable ones are logged, skipped)."""
        self.read += 1
        try:
            event = decode_event(value)
        except DecodeError as error:
            log.error("an unreadable businesses record was skipped: %s", error)
            return
        match event:
            case BusinessRegistered():
                self.owners[event.key_id] = event.business_id
            case BusinessKeyRotated():
                self.issued[event.key_id] = KnownKey(event.business_id, event.key_sha256)
                self.owners[event.key_id] = event.business_id
                # A key already retiring keeps its earlier end: rotating again with it
                # (a stolen key, say) does not extend its life.
                earlier = self.retiring.get(event.previous_key_id, event.previous_valid_until)
                self.retiring[event.previous_key_id] = min(earlier, event.previous_valid_until)
            case BusinessKeyRevoked():
                self.revoked.add(event.key_id)
            case _:
                return
        business = event.business_id
        self.versions[business] = max(self.versions.get(business, 0), event.sequence)

    def refuses(self, key_id: str, now: datetime) -> bool:
        """Whether a key that matches is still refused: revoked, or rotated out and past grace."""
        if key_id in self.revoked:
            return True
        until = self.retiring.get(key_id)
        return until is not None and now > until

    def next_sequence(self, business_id: str) -> int:
        """The sequence of the business's next event (after its registration, 1)."""
        return self.versions.get(business_id, 1) + 1

    async def follow(self, bootstrap: Broker, topic: str, caught_up: asyncio.Event) -> None:
        """Follow the topic until cancelled, from its first record again after a broker error.

        Folding a record twice changes nothing (sets and dicts of the same values).
        """
        delay = 0.5
        while True:
            try:
                await follow_values(bootstrap, topic, self.on_value, caught_up)
            except KafkaError as error:
                log.warning("following the businesses failed (%s); again in %.1f s", error, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_S)
