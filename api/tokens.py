"""Tracking tokens: signed (HS256), scoped to one delivery, expiring.

A token is what a share link carries; it grants reading one delivery's status and live
updates, nothing else. It is never logged (see `main`'s access-log filter).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import jwt

from api.errors import ForbiddenError, NotAuthenticatedError

AUDIENCE = "dronefleet-tracking"


def issue(secret: str, delivery_id: str, now: datetime, ttl: timedelta) -> str:
    """A token for `delivery_id` valid until now + ttl."""
    return jwt.encode(
        {"sub": delivery_id, "aud": AUDIENCE, "iat": now, "exp": now + ttl},
        secret,
        algorithm="HS256",
    )


def subject(secret: str, token: str) -> str:
    """The delivery a valid, unexpired `token` is scoped to; raise otherwise."""
    try:
        claims = jwt.decode(token, secret, algorithms=["HS256"], audience=AUDIENCE)
    except jwt.ExpiredSignatureError as error:
        raise NotAuthenticatedError("the tracking token has expired") from error
    except jwt.InvalidTokenError as error:
        raise NotAuthenticatedError("the tracking token is invalid") from error
    return str(claims.get("sub"))


def verify(secret: str, token: str, delivery_id: str) -> None:
    """Raise unless `token` is valid, unexpired and scoped to `delivery_id`."""
    if subject(secret, token) != delivery_id:
        raise ForbiddenError("the tracking token is for another delivery")
