"""The chaos run's webhook account (`loadtest.webhook_ledger.account_webhooks`). Pure.

It must see each way the notifier could fail a business: a message never answered 2xx,
a delivery's message before its predecessor, a repeat with another body or another id,
a signature the package refused; and not count the allowed repeats as failures.
"""

from __future__ import annotations

from contracts.webhooks import message_id
from loadtest.webhook_ledger import Arrival, account_webhooks

ENDPOINT = "e1"
ORDER = {
    "d1": [message_id("a1", ENDPOINT), message_id("a2", ENDPOINT)],
    "d2": [message_id("b1", ENDPOINT)],
}
EVENTS = {message_id(e, ENDPOINT): e for e in ("a1", "a2", "b1")}


def arrival(event_id: str, delivery_id: str, code: int = 204, **changes: object) -> Arrival:
    fields: dict[str, object] = {
        "message_id": message_id(event_id, ENDPOINT),
        "event_id": event_id,
        "delivery_id": delivery_id,
        "body_sha256": f"body-{event_id}",
        "code": code,
        "verified": True,
        "at": 100.0,
        **changes,
    }
    return Arrival(**fields)  # type: ignore[arg-type]


def test_everything_in_order_with_allowed_repeats_is_clean() -> None:
    arrivals = [
        arrival("a1", "d1", 503),
        arrival("a1", "d1"),
        arrival("b1", "d2"),
        arrival("a1", "d1"),  # a repeat after a kill: same id, same body
        arrival("a2", "d1"),
    ]
    figures = account_webhooks(ORDER, EVENTS, arrivals, ENDPOINT)
    assert (figures.lost, figures.out_of_order, figures.repeats) == (0, 0, 1)
    assert figures.refused_while_down == 1 and figures.clean


def test_a_message_never_answered_2xx_is_lost() -> None:
    arrivals = [arrival("a1", "d1"), arrival("a2", "d1"), arrival("b1", "d2", 503)]
    figures = account_webhooks(ORDER, EVENTS, arrivals, ENDPOINT)
    assert figures.lost == 1 and not figures.clean


def test_a_message_before_its_predecessor_is_out_of_order() -> None:
    arrivals = [arrival("a2", "d1"), arrival("a1", "d1"), arrival("b1", "d2")]
    figures = account_webhooks(ORDER, EVENTS, arrivals, ENDPOINT)
    assert figures.lost == 0 and figures.out_of_order >= 1 and not figures.clean


def test_a_repeat_with_another_body_or_a_foreign_id_or_a_bad_signature_is_caught() -> None:
    base = [arrival("a1", "d1"), arrival("a2", "d1"), arrival("b1", "d2")]
    changed = account_webhooks(
        ORDER, EVENTS, [*base, arrival("a1", "d1", body_sha256="other")], ENDPOINT
    )
    assert changed.repeats_unlike_first == 1 and not changed.clean
    foreign = account_webhooks(
        ORDER, EVENTS, [*base, arrival("b1", "d2", message_id="msg_other")], ENDPOINT
    )
    assert foreign.ids_not_the_events == 1 and not foreign.clean
    forged = account_webhooks(ORDER, EVENTS, [*base, arrival("b1", "d2", verified=False)], ENDPOINT)
    assert forged.bad_signatures == 1 and not forged.clean
