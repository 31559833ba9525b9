"""The tracking link in a real browser: the drone moves on the map, the ETA changes.

Headless Chromium from Debian (`/usr/bin/chromium`, driven by Playwright; no browser
download) opens the link the API returned for a delivery on the running platform
(every process real, started as in the end-to-end test). The page must load nothing
from another origin and break no rule of its Content-Security-Policy.
"""

from __future__ import annotations

from playwright.sync_api import Browser, Page

from tests.support.api_platform import Platform
from tests.support.api_platform import request as request_delivery
from tests.support.browser import keep_errors

WAIT_MS = 120_000  # an upper bound for the fleet to get going, not a timing assertion

# Where the drone marker is drawn relative to the pickup marker, in screen pixels: it
# changes when the drone moves, and not when the map pans (both markers move alike).
OFFSET_FROM_PICKUP = """() => {
  const drone = document.querySelector("path.drone").getBoundingClientRect();
  const pickup = document.querySelector("path.pickup").getBoundingClientRect();
  return [Math.round(drone.x - pickup.x), Math.round(drone.y - pickup.y)];
}"""


ETA_SHOWN = (
    r"() => /^\d+:\d\d \(\d+:\d\d\u2013\d+:\d\d\)$/"
    r".test(document.getElementById('eta').textContent)"
)
"""The countdown with its window (earliest to latest arrival, issue 19), as 4:12 (3:50-4:40)
with an en dash."""


def test_the_tracking_link_shows_the_drone_moving_and_the_eta_changing(
    platform: Platform,
    browser: Browser,
) -> None:
    config, _, key = platform
    accepted = request_delivery(config, key)
    link = accepted["tracking_url"]
    assert (
        link
        == f"{config.api_url}/track/{accepted['delivery_id']}#token={accepted['tracking_token']}"
    )

    page: Page = browser.new_page()
    problems: list[str] = []
    elsewhere: list[str] = []
    page.on("console", lambda m: keep_errors(m, problems))
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on(
        "request",
        lambda r: (
            None
            if r.url.startswith((config.api_url, config.api_url.replace("http", "ws", 1)))
            else elsewhere.append(r.url)
        ),
    )
    response = page.goto(link)
    assert response is not None and response.status == 200
    policy = response.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src 'self'" in policy

    page.wait_for_selector("path.drone", timeout=WAIT_MS)
    page.wait_for_selector("path.pickup", timeout=WAIT_MS)
    page.wait_for_function(ETA_SHOWN, timeout=WAIT_MS)
    first_offset = page.evaluate(OFFSET_FROM_PICKUP)
    first_eta = page.text_content("#eta")
    page.wait_for_function(
        f"(first) => {{ const now = ({OFFSET_FROM_PICKUP})();"
        " return now[0] !== first[0] || now[1] !== first[1]; }",
        arg=first_offset,
        timeout=WAIT_MS,
    )
    page.wait_for_function(
        "(first) => document.getElementById('eta').textContent !== first",
        arg=first_eta,
        timeout=WAIT_MS,
    )
    assert page.text_content("#connection") == "Live"
    assert page.get_attribute("#state", "data-status") in {
        "assigned",
        "en_route_to_pickup",
        "picked_up",
        "en_route_to_dropoff",
        "delivered",
    }
    assert problems == [], "no console errors, no Content-Security-Policy violation"
    assert elsewhere == [], "nothing is loaded from another origin"
    page.close()
