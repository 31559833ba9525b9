"""A secret rotation in the notifier: the fold keeps the previous secret for the grace the
event gives, and a post in the grace is signed with both (`notifier.routing`,
`notifier.dispatcher.signing_secrets`, `notifier.signing`), verified by the package."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from contracts import WebhookEndpointUpdated, new_event_id, utc_now
from contracts.webhooks import endpoint_secret
from notifier.dispatcher import signing_secrets
from notifier.routing import Router, Writes
from notifier.signing import signed_headers
from notifier.store import Due
from tests.support.webhooks import endpoint_registered

KEY = "r" * 40
URL = "https://hooks.example.com/x"
BODY = b'{"type":"delivery.delivered","data":{}}'


def updated(
    sequence: int, version: int, until: datetime | None, **changes: object
) -> WebhookEndpointUpdated:
    now = utc_now()
    fields: dict[str, object] = {
        "url": URL,
        "topics": ("delivery.delivered",),
        "secret_version": version,
        "previous_secret_valid_until": until,
        **changes,
    }
    return WebhookEndpointUpdated(
        event_id=new_event_id(),
        sequence=sequence,
        occurred_at=now,
        recorded_at=now,
        business_id="b1",
        endpoint_id="e1",
        **fields,  # type: ignore[arg-type]
    )


def folded(*events: object) -> Router:
    router = Router(timedelta(seconds=60))
    for event in events:
        router.apply(event, Writes())  # type: ignore[arg-type]
    return router


def test_a_rotation_keeps_the_previous_version_for_its_grace_and_a_later_change_keeps_it() -> None:
    until = utc_now() + timedelta(hours=1)
    router = folded(endpoint_registered("b1", "e1", URL), updated(2, 2, until))
    endpoint = router.endpoints["e1"]
    assert (endpoint.secret_version, endpoint.previous_secret_version) == (2, 1)
    assert endpoint.previous_secret_until == until
    router.apply(updated(3, 2, None, enabled=False), Writes())  # a PATCH: same version
    assert router.endpoints["e1"].previous_secret_until == until
    router.apply(updated(2, 3, None), Writes())  # a replayed, older state: ignored
    assert router.endpoints["e1"].secret_version == 2


def test_a_rotation_without_a_grace_drops_the_old_secret_at_once() -> None:
    router = folded(endpoint_registered("b1", "e1", URL), updated(2, 2, None))
    assert router.endpoints["e1"].previous_secret_version is None


def due(previous: int | None, until: datetime | None) -> Due:
    return Due("m1", "e1", "d1", URL, 2, BODY, 0, 0, previous, until)


def test_a_post_in_the_grace_verifies_with_either_secret_and_after_it_with_the_new_only() -> None:
    now = datetime.now(UTC)
    old, new = endpoint_secret(KEY, "e1", 1), endpoint_secret(KEY, "e1", 2)
    during = signing_secrets(KEY, due(1, now + timedelta(minutes=1)), now)
    assert during == [new, old]
    headers = signed_headers(during, "m1", now, BODY)
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        Webhook(secret).verify(BODY, headers)  # raises unless one signature matches
    after = signing_secrets(KEY, due(1, now - timedelta(seconds=1)), now)
    assert after == [new]
    headers = signed_headers(after, "m1", now, BODY)
    Webhook(new).verify(BODY, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(old).verify(BODY, headers)
