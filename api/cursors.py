"""Opaque page cursors for keyset pagination. Pure.

A cursor is the sort key of the last item of a page, as base64url JSON tagged with the
list it belongs to. Opaque to clients (they pass it back as is) but not secret: the
queries filter by the caller's business first, so a forged cursor only moves within the
caller's own rows. Keyset rather than OFFSET: a page costs the same at any depth, and
rows inserted meanwhile neither repeat nor vanish between pages.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime

from api.errors import InvalidRequestError

MAX_CURSOR_LENGTH = 512


def encode(kind: str, key: list[str]) -> str:
    """The cursor after the item whose sort key is `key` in the list `kind`."""
    raw = json.dumps({"k": kind, "v": key}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(kind: str, cursor: str, size: int) -> list[str]:
    """The sort key in `cursor`; InvalidRequestError unless it is one of `kind`'s."""
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise InvalidRequestError("the cursor is too long")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        payload = json.loads(raw)
    except (binascii.Error, ValueError) as error:
        raise InvalidRequestError("the cursor is not one this API issued") from error
    if (
        not isinstance(payload, dict)
        or payload.get("k") != kind
        or not isinstance(payload.get("v"), list)
        or len(payload["v"]) != size
        or not all(isinstance(part, str) and "\x00" not in part for part in payload["v"])
    ):
        raise InvalidRequestError(f"the cursor is not one of {kind}")
    key: list[str] = payload["v"]
    return key


def encode_deliveries(requested_at: datetime, delivery_id: str) -> str:
    """The cursor after a delivery in a business's list."""
    return encode("deliveries", [requested_at.isoformat(), delivery_id])


def decode_deliveries(cursor: str) -> tuple[datetime, str]:
    """(requested_at, delivery_id) of a deliveries cursor."""
    at, delivery_id = decode("deliveries", cursor, 2)
    try:
        when = datetime.fromisoformat(at)
    except ValueError as error:
        raise InvalidRequestError("the cursor is not one this API issued") from error
    if when.tzinfo is None:
        raise InvalidRequestError("the cursor is not one this API issued")
    return when, delivery_id


def encode_drones(drone_id: str) -> str:
    """The cursor after a drone in the fleet list."""
    return encode("drones", [drone_id])


def decode_drones(cursor: str) -> str:
    """The drone id of a drones cursor."""
    return decode("drones", cursor, 1)[0]
