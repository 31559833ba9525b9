"""Webhooks: what the API that registers endpoints and the notifier that posts must agree on.

- the topic name of each delivery event (`topic_of`) and of a material ETA change;
- an endpoint's signing secret, derived from the platform's webhook signing key
  (`endpoint_secret`): the API shows it once, the notifier signs with it, the log holds
  none (a rebuild or a replay reads no credential);
- a message's id (`message_id`), derived from the event and the endpoint, so a message
  sent again (a retry, a restarted notifier) carries the same `webhook-id` and the
  receiver drops the duplicate;
- which URLs may receive messages (`url_problem`): https only, and no address in a
  private, loopback, link-local or otherwise non-public range, unless the setting that
  allows private targets (the tests' loopback receiver) is on. The notifier checks the
  addresses a host name resolves to as well, at every send.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
from typing import get_args
from urllib.parse import urlsplit

from contracts.events import (
    Delivered,
    DeliveryCancelled,
    DeliveryEvent,
    DeliveryFailed,
    DeliveryRequested,
    DeliveryRescheduled,
    DroneAssigned,
    PickedUp,
    WebhookTopic,
)

ETA_CHANGED: WebhookTopic = "delivery.eta_changed"
WEBHOOK_TOPICS: tuple[WebhookTopic, ...] = get_args(WebhookTopic)

_TOPIC_OF: dict[type[DeliveryEvent], WebhookTopic] = {
    DeliveryRequested: "delivery.requested",
    DroneAssigned: "delivery.assigned",
    PickedUp: "delivery.picked_up",
    Delivered: "delivery.delivered",
    DeliveryCancelled: "delivery.cancelled",
    DeliveryRescheduled: "delivery.rescheduled",
    DeliveryFailed: "delivery.failed",
}

SECRET_PREFIX = "whsec_"  # noqa: S105 -- the scheme's prefix, not a secret


def topic_of(event: DeliveryEvent) -> WebhookTopic:
    """The webhook topic a delivery event is sent under."""
    return _TOPIC_OF[type(event)]


def endpoint_secret(signing_key: str, endpoint_id: str, version: int = 1) -> str:
    """The endpoint's Standard Webhooks secret (`whsec_` and 32 bytes in base64).

    HMAC-SHA256 of the endpoint id and version under the platform's signing key: as
    unguessable as a random secret to anyone without the key, and a new `version` (a
    rotation) gives a new secret without storing any.
    """
    material = f"webhook-secret\x1f{endpoint_id}\x1f{version}".encode()
    raw = hmac.new(signing_key.encode(), material, hashlib.sha256).digest()
    return SECRET_PREFIX + base64.b64encode(raw).decode()


def message_id(event_id: str, endpoint_id: str) -> str:
    """The `webhook-id` of the message telling `endpoint_id` about `event_id`: stable."""
    digest = hashlib.sha256(f"{event_id}\x1f{endpoint_id}".encode()).hexdigest()
    return f"msg_{digest[:32]}"


def address_problem(address: str, allow_private: bool) -> str | None:
    """Why a message may not go to this IP address, or None."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return f"not an IP address: {address!r}"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if allow_private and ip.is_loopback:
        return None
    if ip.is_link_local or ip.is_unspecified or ip.is_multicast or ip.is_reserved:
        return f"{ip} is not a unicast address one may post to"
    if ip.is_global or (allow_private and ip.is_private):
        return None
    return f"{ip} is not a public address"


def url_problem(url: str, allow_private: bool) -> str | None:
    """Why `url` may not receive webhooks, or None (its literal form only, no DNS).

    With `allow_private` plain http and private or loopback addresses pass too (a local
    receiver); link-local (cloud metadata) and unspecified addresses never do.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        return f"not a URL: {error}"
    if parts.scheme != "https" and not (allow_private and parts.scheme == "http"):
        return "only https URLs may receive webhooks"
    host = parts.hostname
    if not host:
        return "the URL has no host"
    if parts.username is not None or parts.password is not None:
        return "credentials in the URL are not allowed (the signature authenticates)"
    if port == 0:
        return "port 0 is not a port"
    if host == "localhost" or host.endswith(".localhost"):
        return None if allow_private else "localhost is not a public host"
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return None  # a name: the notifier checks what it resolves to at every send
    return address_problem(host, allow_private)
