"""Tracking tokens: signed (HS256), scoped to one delivery, expiring.

A token is what a share link carries; it grants reading one delivery's status and live
updates, nothing else. It is never logged (see `main`'s access-log filter).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt

from api.errors import ForbiddenError, NotAuthenticatedError

AUDIENCE = "dronefleet-tracking"


def issue(
    secret: str,
    delivery_id: str,
    now: datetime,
    ttl: timedelta,
    business_id: str | None = None,
) -> str:
    """A token for `delivery_id` valid until now + ttl.

    `bid` names the delivery's business, so that the sockets of one business can be
    capped (`api.throttle.SocketCaps`) without a database query per handshake. Issued
    from the same inputs, a token is the same string (HS256 is deterministic, and the
    claims are whole seconds), which is how a replayed request gets the same answer.
    """
    claims: dict[str, object] = {"sub": delivery_id, "aud": AUDIENCE, "iat": now, "exp": now + ttl}
    if business_id is not None:
        claims["bid"] = business_id
    return jwt.encode(claims, secret, algorithm="HS256")


@dataclass(frozen=True, slots=True)
class TokenClaims:
    """What a valid token says: its delivery and, for tokens that carry it, the business."""

    delivery_id: str
    business_id: str | None


def read(secret: str, token: str) -> TokenClaims:
    """The claims of a valid, unexpired `token`; raise otherwise."""
    try:
        claims = jwt.decode(token, secret, algorithms=["HS256"], audience=AUDIENCE)
    except jwt.ExpiredSignatureError as error:
        raise NotAuthenticatedError("the tracking token has expired") from error
    except jwt.InvalidTokenError as error:
        raise NotAuthenticatedError("the tracking token is invalid") from error
    business = claims.get("bid")
    return TokenClaims(str(claims.get("sub")), str(business) if business is not None else None)


def subject(secret: str, token: str) -> str:
    """The delivery a valid, unexpired `token` is scoped to; raise otherwise."""
    return read(secret, token).delivery_id


def verify(secret: str, token: str, delivery_id: str) -> TokenClaims:
    """The claims of `token`; raise unless it is valid, unexpired and for `delivery_id`."""
    claims = read(secret, token)
    if claims.delivery_id != delivery_id:
        raise ForbiddenError("the tracking token is for another delivery")
    return claims
