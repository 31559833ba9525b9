"""Reading a real browser's console in tests."""

from __future__ import annotations

from playwright.sync_api import ConsoleMessage


def keep_errors(message: ConsoleMessage, into: list[str]) -> None:
    """Append console errors and Content-Security-Policy reports to `into`.

    A 404 of the delivery's status is not one: the page asks before the read model has
    the delivery and retries, by design.
    """
    url = message.location.get("url", "")
    if "/v1/deliveries/" in url and "404" in message.text:
        return
    if message.type == "error" or "Content Security Policy" in message.text:
        into.append(f"{message.text} ({url})")
