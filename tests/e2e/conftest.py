"""The end-to-end tests' fixtures: the platform as the demo runs it, a browser, and a stack
of their own for the tests that break Kafka or PostgreSQL on purpose."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser, sync_playwright

from contracts import Topics
from devstack.services import PlatformConfig, register_business, start_platform, stop_all
from devstack.settings import StackSettings
from loadtest.private_stack import PrivateStack, private_settings
from tests.support.api_platform import Platform, free_port


@pytest.fixture(scope="session")
def private_stack() -> Iterator[PrivateStack]:
    """A Kafka and a PostgreSQL of this session's own, stopped and deleted at the end.

    Its own ports and home: the shared stack serves the other tests and must never be
    stopped.
    """
    stack = PrivateStack(private_settings())
    try:
        stack.up()
        yield stack
    finally:
        stack.down()


@pytest.fixture(scope="module")
def platform(
    running_stack: StackSettings, topics: Topics, fresh_database: Callable[[], str]
) -> Iterator[Platform]:
    dsn = fresh_database()
    config = PlatformConfig(
        stack=running_stack,
        database=dsn.rsplit("/", 1)[1],
        topic_prefix=topics.prefix,
        api_port=free_port(),
        streams_metrics_port=free_port(),
    )
    logs = running_stack.home / "test-logs" / config.topic_prefix
    services = start_platform(
        config,
        logs,
        ["--drones", "3", "--telemetry-hz", "2", "--cruise-speed", "40"],
        {
            "DRONEFLEET_SIMULATOR_DWELL_S": "2",
            "DRONEFLEET_STREAMS_DWELL_S": "2",
            "DRONEFLEET_STREAMS_CRUISE_SPEED_MPS": "40",
        },
    )
    try:
        yield config, dsn, register_business(config, "e2e shop")
    finally:
        stop_all(services)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's headless Chromium, driven by Playwright (no browser download)."""
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox"]
        )
        yield chromium
        chromium.close()
