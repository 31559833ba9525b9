"""The live map draws the airspace: every no-fly zone and depot, in a real browser.

The API and the projection sink run as processes on this module's topics and database,
with the airspace published as the platform publishes it at start; Chromium opens a
delivery's tracking link and the page draws what `GET /v1/airspace` serves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser

from contracts import Topics
from devstack.services import PlatformConfig, register_business
from devstack.settings import StackSettings
from simulator.world.scenario import default_scenario
from tests.support.api_platform import request as request_delivery
from tests.support.api_platform import running_api
from tests.support.browser import keep_errors


@pytest.fixture(scope="module")
def api(
    running_stack: StackSettings, topics: Topics, fresh_database: Callable[[], str]
) -> Iterator[PlatformConfig]:
    with running_api(running_stack, topics, fresh_database()) as config:
        yield config


def test_the_live_map_draws_every_no_fly_zone_and_depot(
    api: PlatformConfig,
    browser: Browser,
) -> None:
    accepted = request_delivery(api, register_business(api, "airspace shop"))
    page = browser.new_page()
    problems: list[str] = []
    page.on("console", lambda m: keep_errors(m, problems))
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.goto(accepted["tracking_url"])
    scenario = default_scenario()
    # Attached, not visible: Leaflet draws what lies outside the view as an empty path.
    page.wait_for_selector("path.no-fly-zone", state="attached", timeout=30_000)
    page.wait_for_function(
        f"() => document.querySelectorAll('path.depot').length === {len(scenario.depots)}",
        timeout=30_000,
    )
    assert page.locator("path.no-fly-zone").count() == len(scenario.zones)
    assert page.locator("path.service-area").count() == 1
    assert problems == [], "no console errors, no Content-Security-Policy violation"
    page.close()
