"""Websocket handshake checks, done before a connection is accepted. Pure.

Browsers cannot set headers on a websocket, so the credential travels as a subprotocol
(`bearer.<credential>`, next to `dronefleet.v1`): never in the URL, so it stays out of
access logs. A missing Origin is a non-browser client (allowed: it proves nothing a
browser would); a present one must be in the configured list (stops other sites'
pages from using a visitor's credentials).
"""

from __future__ import annotations

from collections.abc import Iterable

BEARER_PREFIX = "bearer."


def origin_allowed(origin: str | None, allowed: Iterable[str]) -> bool:
    """Whether a handshake's Origin header may connect."""
    return origin is None or origin in allowed


def credential_from_subprotocols(offered: Iterable[str]) -> str | None:
    """The credential of the first `bearer.<credential>` subprotocol offered, if any."""
    for protocol in offered:
        if protocol.startswith(BEARER_PREFIX):
            return protocol.removeprefix(BEARER_PREFIX)
    return None
