"""Signatures (`notifier.signing`) checked by the standardwebhooks package's own verifier."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from contracts.webhooks import endpoint_secret, message_id
from notifier.signing import signed_headers

SECRET = endpoint_secret("s" * 40, "endpoint-1")
BODY = b'{"type":"delivery.picked_up","data":{"delivery_id":"d1"}}'


def test_the_packages_verifier_accepts_what_the_notifier_signs() -> None:
    headers = signed_headers(SECRET, "msg_1", datetime.now(UTC), BODY)
    assert Webhook(SECRET).verify(BODY, headers)["data"]["delivery_id"] == "d1"
    assert headers["webhook-id"] == "msg_1"
    assert headers["webhook-signature"].startswith("v1,")


@pytest.mark.parametrize(
    "tamper",
    [
        lambda h, b: (h, b + b" "),
        lambda h, b: ({**h, "webhook-id": "msg_2"}, b),
        lambda h, b: ({**h, "webhook-timestamp": str(int(h["webhook-timestamp"]) + 1)}, b),
    ],
    ids=["body", "id", "timestamp"],
)
def test_any_change_breaks_the_signature(tamper: object) -> None:
    headers = signed_headers(SECRET, "msg_1", datetime.now(UTC), BODY)
    changed_headers, changed_body = tamper(headers, BODY)  # type: ignore[operator]
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(changed_body, changed_headers)


def test_another_endpoints_secret_does_not_verify() -> None:
    headers = signed_headers(SECRET, "msg_1", datetime.now(UTC), BODY)
    other = endpoint_secret("s" * 40, "endpoint-2")
    with pytest.raises(WebhookVerificationError):
        Webhook(other).verify(BODY, headers)


def test_a_retry_hours_later_is_signed_with_its_own_time_and_the_same_id() -> None:
    first = signed_headers(SECRET, message_id("event-1", "endpoint-1"), datetime.now(UTC), BODY)
    later = datetime.now(UTC) + timedelta(hours=3)
    retry = signed_headers(SECRET, message_id("event-1", "endpoint-1"), later, BODY)
    assert retry["webhook-id"] == first["webhook-id"]
    assert int(retry["webhook-timestamp"]) - int(first["webhook-timestamp"]) >= 3 * 3600 - 1
    with pytest.raises(WebhookVerificationError):  # the receiver's 5-minute window, now
        Webhook(SECRET).verify(BODY, retry)
