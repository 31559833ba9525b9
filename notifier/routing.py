"""Which endpoints hear of which event, and what they are sent: the notifier's fold. Pure.

The `Router` folds three topics, record by record, in the consumer's order:
- the businesses topic's endpoint events: each endpoint's current state;
- the deliveries topic: which business owns a delivery (its `DeliveryRequested`), then,
  for every delivery event, one `Outgoing` message per endpoint of that business that
  asked for the event's topic;
- the tracking topic: a `delivery.eta_changed` message when the ETA moved by more than
  `eta_change_s` from the last one sent (the first ETA of a delivery counts as a change).

It returns what to write (`Writes`): the store writes it with the consumed offsets in one
transaction, so a replayed record gives the same rows and nothing twice. A delivery is
forgotten at its final event, so what it keeps is bounded by the deliveries in flight.

An endpoint hears of the events the notifier reads after it reads the registration: an
event racing a fresh registration on another topic may come first and is not sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import msgspec

from contracts import (
    DELIVERY_EVENT_TYPES,
    FINAL_STATUSES,
    AnyEvent,
    DeliveryEvent,
    DeliveryRequested,
    TrackingUpdated,
    WebhookEndpointDeleted,
    WebhookEndpointRegistered,
    WebhookEndpointUpdated,
    WebhookRedeliveryRequested,
)
from contracts.webhooks import ETA_CHANGED, message_id, topic_of

_FINAL_EVENTS = ("Delivered", "DeliveryCancelled", "DeliveryFailed")
_encoder = msgspec.json.Encoder()


@dataclass(frozen=True, slots=True)
class Endpoint:
    """An endpoint as the notifier routes to it."""

    endpoint_id: str
    business_id: str
    url: str
    topics: frozenset[str]
    enabled: bool
    deleted: bool
    secret_version: int
    sequence: int
    registered_at: datetime
    """Events recorded before are not sent: a notifier reading old history (its first
    start) does not tell a new endpoint of deliveries long past."""
    previous_secret_version: int | None = None
    previous_secret_until: datetime | None = None
    """After a rotation: the version before, which signs alongside until then."""

    def wants(self, topic: str, recorded_at: datetime) -> bool:
        """Whether a message of `topic` about an event recorded then goes here now."""
        return (
            self.enabled
            and not self.deleted
            and topic in self.topics
            and recorded_at >= self.registered_at
        )


@dataclass(slots=True)
class Owner:
    """Who a delivery in flight belongs to, and the last ETA its endpoints were sent."""

    business_id: str
    notified_eta: datetime | None = None


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message for one endpoint: its id is stable (`contracts.webhooks.message_id`)."""

    message_id: str
    endpoint_id: str
    delivery_id: str
    topic: str
    event_id: str
    event_recorded_at: datetime
    body: bytes


@dataclass(frozen=True, slots=True)
class Redelivery:
    """Take back the endpoint's messages dead before `before` (all, or `message_ids`)."""

    endpoint_id: str
    business_id: str
    message_ids: tuple[str, ...]
    before: datetime


@dataclass(slots=True)
class Writes:
    """What one batch of records changes, for the store to write in one transaction."""

    endpoints: dict[str, Endpoint] = field(default_factory=dict)
    owners: dict[str, Owner | None] = field(default_factory=dict)
    """delivery id -> its owner now, or None: forget it (the delivery ended)."""
    messages: list[Outgoing] = field(default_factory=list)
    redeliveries: list[Redelivery] = field(default_factory=list)


class Router:
    """The fold; `endpoints` and `owners` are loaded from the store at start."""

    def __init__(
        self,
        eta_change: timedelta,
        endpoints: dict[str, Endpoint] | None = None,
        owners: dict[str, Owner] | None = None,
    ) -> None:
        self.eta_change = eta_change
        self.endpoints: dict[str, Endpoint] = dict(endpoints or {})
        self.owners: dict[str, Owner] = dict(owners or {})

    def apply(self, event: AnyEvent, writes: Writes) -> None:
        """Fold one event, adding what it changes to `writes`."""
        match event:
            case WebhookEndpointRegistered() | WebhookEndpointUpdated():
                self._endpoint(event, writes)
            case WebhookEndpointDeleted():
                held = self.endpoints.get(event.endpoint_id)
                if held is not None and held.business_id == event.business_id:
                    gone = replace(held, deleted=True, enabled=False, sequence=event.sequence)
                    self.endpoints[event.endpoint_id] = gone
                    writes.endpoints[event.endpoint_id] = gone
            case WebhookRedeliveryRequested():
                writes.redeliveries.append(
                    Redelivery(
                        event.endpoint_id, event.business_id, event.message_ids, event.recorded_at
                    )
                )
            case TrackingUpdated():
                self._eta(event, writes)
            case _ if isinstance(event, DELIVERY_EVENT_TYPES):
                self._delivery(event, writes)

    def _endpoint(
        self, event: WebhookEndpointRegistered | WebhookEndpointUpdated, writes: Writes
    ) -> None:
        held = self.endpoints.get(event.endpoint_id)
        if held is not None and (held.business_id != event.business_id or held.deleted):
            return  # another business's id, or deleted for good
        if held is not None and held.sequence >= event.sequence:
            return  # an older state (a replay)
        previous, until = _previous_secret(held, event)
        endpoint = Endpoint(
            endpoint_id=event.endpoint_id,
            business_id=event.business_id,
            url=event.url,
            topics=frozenset(event.topics),
            enabled=getattr(event, "enabled", True),
            deleted=False,
            secret_version=event.secret_version,
            sequence=event.sequence,
            registered_at=held.registered_at if held is not None else event.recorded_at,
            previous_secret_version=previous,
            previous_secret_until=until,
        )
        self.endpoints[event.endpoint_id] = endpoint
        writes.endpoints[event.endpoint_id] = endpoint

    def _delivery(self, event: DeliveryEvent, writes: Writes) -> None:
        if isinstance(event, DeliveryRequested) and event.delivery_id not in self.owners:
            self.owners[event.delivery_id] = Owner(event.business_id)
            writes.owners[event.delivery_id] = self.owners[event.delivery_id]
        owner = self.owners.get(event.delivery_id)
        if owner is None:
            return  # requested before the notifier's first start, or already ended
        topic = topic_of(event)
        data = msgspec.to_builtins(event)
        self._send(owner.business_id, topic, event.event_id, event, data, writes)
        if event.event_type in _FINAL_EVENTS:
            del self.owners[event.delivery_id]
            writes.owners[event.delivery_id] = None

    def _eta(self, update: TrackingUpdated, writes: Writes) -> None:
        owner = self.owners.get(update.delivery_id)
        if owner is None or update.eta is None or update.status in FINAL_STATUSES:
            return
        previous = owner.notified_eta
        if previous is not None and abs(update.eta - previous) <= self.eta_change:
            return
        owner.notified_eta = update.eta
        writes.owners[update.delivery_id] = owner
        data = {
            "delivery_id": update.delivery_id,
            "event_id": update.event_id,
            "eta": update.eta.isoformat(),
            "previous_eta": previous.isoformat() if previous is not None else None,
            "status": update.status,
            "remaining_m": update.remaining_m,
            "drone_id": update.drone_id,
            "lat": update.lat,
            "lon": update.lon,
            "occurred_at": update.occurred_at.isoformat(),
        }
        self._send(owner.business_id, ETA_CHANGED, update.event_id, update, data, writes)

    def _send(
        self,
        business_id: str,
        topic: str,
        event_id: str,
        event: DeliveryEvent | TrackingUpdated,
        data: object,
        writes: Writes,
    ) -> None:
        for endpoint in self.endpoints.values():
            if endpoint.business_id != business_id or not endpoint.wants(topic, event.recorded_at):
                continue
            body = {"type": topic, "timestamp": event.recorded_at.isoformat(), "data": data}
            writes.messages.append(
                Outgoing(
                    message_id=message_id(event_id, endpoint.endpoint_id),
                    endpoint_id=endpoint.endpoint_id,
                    delivery_id=event.delivery_id,
                    topic=topic,
                    event_id=event_id,
                    event_recorded_at=event.recorded_at,
                    body=_encoder.encode(body),
                )
            )


def _previous_secret(
    held: Endpoint | None, event: WebhookEndpointRegistered | WebhookEndpointUpdated
) -> tuple[int | None, datetime | None]:
    """The secret that signs alongside the endpoint's own after `event`, and until when.

    A rotation (a higher `secret_version`) makes the held version the previous one, for
    the grace the event gives (none: the old secret stops at once); any other change
    keeps the grace under way.
    """
    if held is None:
        return None, None
    if event.secret_version > held.secret_version:
        until = getattr(event, "previous_secret_valid_until", None)
        return (held.secret_version, until) if until is not None else (None, None)
    return held.previous_secret_version, held.previous_secret_until
