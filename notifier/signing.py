"""Standard Webhooks signatures: the headers that go with a message's body. Pure.

The signature is the `standardwebhooks` package's own (`Webhook.sign`: HMAC-SHA256 of
`id.timestamp.body` with the endpoint's secret, `v1,<base64>`), so a receiver using that
package, or any implementation of the scheme, verifies it. The timestamp is the time of
the attempt, not of the event: receivers refuse timestamps more than five minutes off
(replay protection), and a retry hours later must still verify; the `webhook-id` stays
the message's, so the receiver drops the duplicate of a message it already had.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from math import floor

from standardwebhooks.webhooks import Webhook


def signed_headers(
    secret: str | Sequence[str], message_id: str, at: datetime, body: bytes
) -> dict[str, str]:
    """The request headers of one attempt: id, timestamp, signature(s) and content type.

    Several secrets (a rotation's grace: the new one, then the old): one signature each,
    space-separated (`v1,<a> v1,<b>`), as the scheme allows; a receiver verifying with
    either secret accepts the message.
    """
    secrets = [secret] if isinstance(secret, str) else list(secret)
    signature = " ".join(
        Webhook(s).sign(msg_id=message_id, timestamp=at, data=body) for s in secrets
    )
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(floor(at.timestamp())),
        "webhook-signature": signature,
        "content-type": "application/json",
        "user-agent": "dronefleet-notifier/1",
    }
