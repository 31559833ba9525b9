"""`Idempotency-Key` on the requests that create something: ids derived, bodies digested.

A client that retries after a timeout or a 503 cannot know whether its first request
was recorded; with the same `Idempotency-Key` it gets the same answer and nothing is
created twice. What decides is not this process's memory (a retry reaches another
replica, or this one after a restart) but the log and what it folds into:

- the id of what the request creates is derived from who asks and the key
  (`derived_id`), so every retry names the same delivery, cancellation or business;
- the request's body is digested (`digest`) and travels in the command or event, so the
  delivery aggregate tells a retry (same digest: no event) from another request under the
  same key (refused) (`streams.domain.delivery`);
- the API answers a retry from the read model: the record the first request made,
  compared with the retry's body (the same: the same answer; another: 422
  `idempotency_key_reused`).

Keys do not expire: the delivery a key made stays its answer (the log keeps it), so a
client uses a fresh key, e.g. a UUID, per order. A key scoped to its business: two
businesses may use the same one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Annotated

from fastapi import Header
from pydantic import BaseModel

from api import auth_keys

IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        pattern=r"^[\x21-\x7e]+$",
        description=(
            "Any unique string (a UUID) per thing to create: a retry with the same key and "
            "body gets the same answer and creates nothing more, on any replica, at any "
            "time; the same key with another body gets 422 `idempotency_key_reused`."
        ),
    ),
]


def derived_id(kind: str, *parts: str) -> str:
    """A 32-hex id (the shape of `uuid4().hex`) for `kind` from its owner and the key."""
    material = "\x1f".join((kind, *parts)).encode()
    return hashlib.sha256(material).hexdigest()[:32]


def digest(body: BaseModel | None) -> str:
    """The SHA-256 (hex) of a request body, independent of its JSON spelling."""
    fields = body.model_dump(mode="json") if body is not None else {}
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def business_key(secret: str, idempotency_key: str) -> auth_keys.IssuedKey:
    """The API key a keyed registration issues, derived so that a retry shows it again.

    Only its hash is recorded, so a retry could not show a random key a second time;
    derived with HMAC from the API's secret and the operator's idempotency key, it is as
    unguessable as a random one to anyone without both.
    """
    key_id = hmac.new(secret.encode(), b"key-id\x1f" + idempotency_key.encode(), "sha256")
    secret_part = hmac.new(secret.encode(), b"key\x1f" + idempotency_key.encode(), "sha256")
    encoded = base64.urlsafe_b64encode(secret_part.digest()).decode().rstrip("=")
    short_id = key_id.hexdigest()[:16]
    key = f"{auth_keys.PREFIX}.{short_id}.{encoded}"
    return auth_keys.IssuedKey(key_id=short_id, key=key, sha256=auth_keys.fingerprint(key))
