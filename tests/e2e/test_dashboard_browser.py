"""The running dashboard in a real browser: the fleet map is drawn, with no map CDN.

The dashboard runs as its own process, started as `dronefleet demo` starts it, against a fresh
database holding `tests.support.dashboard_dataset`; Debian's Chromium, headless, opens it with
every request outside the dashboard refused, waits for the fleet map's deck.gl canvas
and its base map, and takes a screenshot: the drones must be on it.
"""

from __future__ import annotations

import io
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from matplotlib import image
from playwright.sync_api import Route, sync_playwright

from dashboard.maps import PHASE_COLORS
from devstack.services import PlatformConfig, start_service
from devstack.settings import StackSettings
from tests.support import dashboard_dataset

CHROMIUM = "/usr/bin/chromium"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def dashboard(
    running_stack: StackSettings,
    fresh_database: Callable[[], str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[str, str]]:
    dsn = fresh_database()
    dashboard_dataset.load(dsn)
    # Started the way `dronefleet demo` starts it: devstack's service, the platform's env.
    config = PlatformConfig(
        stack=running_stack, database=dsn.rsplit("/", 1)[1], dashboard_port=free_port()
    )
    logs = tmp_path_factory.mktemp("dashboard")
    service = start_service("dashboard", ["dashboard"], config, logs)
    process, log = service.process, service.log_file
    url = str(config.dashboard_url)
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, log.read_text()
            try:
                if httpx.get(f"{url}/_stcore/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"the dashboard did not start:\n{log.read_text()}"
            time.sleep(0.5)
        yield url, config.operator_key  # the platform's operators' key signs in
    finally:
        service.stop()


@pytest.mark.timeout(600)  # a software-rendered WebGL page on a busy 2-core machine
def test_the_fleet_map_is_drawn_without_any_outside_request(
    dashboard: tuple[str, str], tmp_path: Path
) -> None:
    dashboard_url, operator_key = dashboard
    outside: list[str] = []

    def only_local(route: Route) -> None:
        if route.request.url.startswith(dashboard_url):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.route("**/*", only_local)
            page.goto(dashboard_url)
            sign_in = page.locator("input[type='password']")
            sign_in.wait_for(timeout=180_000)
            sign_in.fill(operator_key)
            sign_in.press("Enter")
            chart = page.locator("[data-testid='stDeckGlJsonChart']").first
            # deck.gl's canvas over MapLibre's (the blank inline style): both drawn.
            chart.locator("#deckgl-overlay").wait_for(timeout=180_000)
            chart.locator(
                ".mapboxgl-canvas-container canvas, .maplibregl-canvas-container canvas"
            ).first.wait_for(timeout=180_000)
            page.wait_for_timeout(3_000)  # the first frames on a software GL
            shot = chart.screenshot(path=str(tmp_path / "fleet-map.png"), timeout=180_000)
        finally:
            browser.close()

    pixels = image.imread(io.BytesIO(shot), format="png")[:, :, :3] * 255
    assert pixels.shape[0] > 300 and pixels.shape[1] > 300
    assert outside == [], f"the page asked the outside world for {outside}"
    # The two drones of the data set, in their phases' colours, on the plain background.
    for phase in ("to_dropoff", "to_pickup"):
        distance = np.abs(pixels - np.array(PHASE_COLORS[phase])).sum(axis=-1)
        assert (distance < 40).sum() > 20, f"no {phase} drone drawn: the map is blank"
