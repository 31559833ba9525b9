"""The live map in the states a flight rarely shows on cue, in a real browser.

A failed delivery (the page says why and stops), a rescheduled one (why, and its place
in the queue) and a reload (the track drawn so far comes back from the history). The API
and the projection sink run as processes on this module's topics and database, and the
tests produce on the real broker the events the stream worker would, so each state
comes when the test asks. Its own module: the full platform of `test_live_map_browser`
would fly these deliveries itself on shared topics.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page

from contracts import Event, GeoPoint, Topics, TrackingStatus, utc_now
from devstack.services import PlatformConfig, register_business
from devstack.settings import StackSettings
from tests.support.api_platform import PICKUP, running_api
from tests.support.api_platform import request as request_delivery
from tests.support.browser import keep_errors
from tests.support.factories import assigned, failed, rescheduled, tracking
from tests.support.kafka_helpers import produce

Api = tuple[PlatformConfig, str]
"""The running API and a registered business's key."""


@pytest.fixture(scope="module")
def api_only(
    running_stack: StackSettings, topics: Topics, fresh_database: Callable[[], str]
) -> Iterator[Api]:
    with running_api(running_stack, topics, fresh_database()) as config:
        yield config, register_business(config, "browser shop")


def _in_flight(
    running_stack: StackSettings, topics: Topics, api: PlatformConfig, key: str, fixes: int
) -> dict[str, Any]:
    """A delivery requested over REST, assigned, with `fixes` updates flying to its pickup.

    The drone zigzags: Leaflet drops the middle points of a straight line when it draws.
    """
    accepted = request_delivery(api, key)
    delivery_id = accepted["delivery_id"]
    _produce(running_stack.kafka_bootstrap, topics.deliveries.name, [assigned(delivery_id)])
    updates = [
        tracking(
            delivery_id,
            n,
            utc_now(),
            GeoPoint(PICKUP["lat"] - 0.004 + 0.0005 * n, PICKUP["lon"] + 0.002 * (n % 2)),
            status="en_route_to_pickup",
        )
        for n in range(1, fixes + 1)
    ]
    _produce(running_stack.kafka_bootstrap, topics.tracking.name, updates)
    return accepted


def _produce(bootstrap: str, topic: str, events: Sequence[Event]) -> None:
    """`produce` from a thread of its own: Playwright's sync API runs an event loop here."""
    with ThreadPoolExecutor(max_workers=1) as thread:
        thread.submit(asyncio.run, produce(bootstrap, topic, events)).result()


def _open(chromium: Browser, link: str) -> tuple[Page, list[str], list[str]]:
    """The page at `link`; its console errors and the websockets it opened, as they come."""
    page = chromium.new_page()
    problems: list[str] = []
    sockets: list[str] = []
    page.on("console", lambda m: keep_errors(m, problems))
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("websocket", lambda socket: sockets.append(socket.url))
    page.goto(link)
    return page, problems, sockets


def _status_is(page: Page, status: str) -> None:
    page.wait_for_function(
        "(s) => document.getElementById('state').dataset.status === s", arg=status, timeout=30_000
    )


def _watched_then_given_up(
    running_stack: StackSettings,
    topics: Topics,
    api_only: Api,
    chromium: Browser,
    give_up: Callable[[str], Event],
    status: TrackingStatus,
) -> tuple[Page, list[str], list[str]]:
    """A flying delivery's page open; then its drone gives it up (`give_up`: the event)."""
    api, key = api_only
    accepted = _in_flight(running_stack, topics, api, key, fixes=1)
    delivery_id = accepted["delivery_id"]
    page, problems, sockets = _open(chromium, accepted["tracking_url"])
    _status_is(page, "en_route_to_pickup")
    now = utc_now()
    _produce(running_stack.kafka_bootstrap, topics.deliveries.name, [give_up(delivery_id)])
    end = tracking(delivery_id, 2, now, status=status, eta_in=None)
    _produce(running_stack.kafka_bootstrap, topics.tracking.name, [end])
    _status_is(page, status)
    return page, problems, sockets


def _detail_says(page: Page, *parts: str) -> None:
    page.wait_for_function(
        "(parts) => parts.every((p) => document.getElementById('detail').textContent.includes(p))",
        arg=list(parts),
        timeout=30_000,
    )


def test_a_failed_delivery_says_why_and_the_page_stops(
    running_stack: StackSettings,
    topics: Topics,
    api_only: Api,
    browser: Browser,
) -> None:
    page, problems, sockets = _watched_then_given_up(
        running_stack,
        topics,
        api_only,
        browser,
        lambda delivery_id: failed(delivery_id, seq=3, reason="battery", at=utc_now()),
        "failed",
    )
    _detail_says(page, "battery ran low")
    page.wait_for_function(
        "() => document.getElementById('connection').textContent === 'This delivery failed.'",
        timeout=30_000,
    )
    assert page.text_content("#state") == "Failed"
    page.wait_for_timeout(3_000)  # a page that reconnects would do so within a second
    assert len(sockets) == 1, "no reconnection after a final state"
    assert problems == []
    page.close()


def test_a_rescheduled_delivery_says_why_and_its_place_in_the_queue(
    running_stack: StackSettings,
    topics: Topics,
    api_only: Api,
    browser: Browser,
) -> None:
    page, problems, sockets = _watched_then_given_up(
        running_stack,
        topics,
        api_only,
        browser,
        lambda delivery_id: rescheduled(delivery_id, seq=3, reason="unreachable", at=utc_now()),
        "rescheduled",
    )
    _detail_says(page, "could not reach", "Next in line for a drone")
    assert page.text_content("#state") == "Finding another drone"
    assert page.text_content("#connection") == "Live", "a waiting delivery stays connected"
    assert len(sockets) == 1
    assert problems == []
    page.close()


TRACK_POINTS = """() => {
  const path = document.querySelector("path.track");
  return path === null ? 0 : (path.getAttribute("d").match(/[ML]/g) || []).length;
}"""


def test_the_track_is_redrawn_after_a_reload(
    running_stack: StackSettings,
    topics: Topics,
    api_only: Api,
    browser: Browser,
) -> None:
    api, key = api_only
    accepted = _in_flight(running_stack, topics, api, key, fixes=5)
    history_url = f"{api.api_url}/v1/deliveries/{accepted['delivery_id']}/history"
    bearer = {"Authorization": f"Bearer {accepted['tracking_token']}"}

    def recorded() -> list[int]:
        response = httpx.get(history_url, headers=bearer)
        return [p["sequence"] for p in response.json()["track"]] if response.is_success else []

    deadline = time.monotonic() + 30
    while recorded() != [1, 2, 3, 4, 5]:
        assert time.monotonic() < deadline, "the read model never had the track"
        time.sleep(0.2)

    # The live socket's snapshot is the newest update only: the rest is the history's.
    page, problems, _ = _open(browser, accepted["tracking_url"])
    page.wait_for_function(f"() => ({TRACK_POINTS})() === 5", timeout=30_000)
    page.reload()
    page.wait_for_function(f"() => ({TRACK_POINTS})() === 5", timeout=30_000)
    assert problems == []
    page.close()


def test_a_waiting_delivery_shows_its_quote_from_the_first_second(
    api_only: Api, browser: Browser
) -> None:
    """Issue 19: the 202 carries the quote, and the page ticks it before any drone flies."""
    api, key = api_only
    accepted = request_delivery(api, key)
    quote = accepted["quote"]
    assert quote is not None
    at = {
        key: datetime.fromisoformat(quote[key])
        for key in ("quoted_at", "pickup_eta", "dropoff_eta")
    }
    assert at["quoted_at"] < at["pickup_eta"] < at["dropoff_eta"]
    page, problems, sockets = _open(browser, accepted["tracking_url"])
    _status_is(page, "requested")
    _detail_says(page, "Pickup expected in about")
    page.wait_for_function(
        "() => /^\\d+:\\d\\d$/.test(document.getElementById('eta').textContent)", timeout=30_000
    )
    assert problems == [] and len(sockets) == 1
    page.close()
