"""The API (and optionally the projection sink) as real processes, for the API's tests.

The same `devstack.services` code as the demo starts them, on the test module's own
topics and database; no stream worker and no simulator: the tests produce the events
those would, so every expected answer is known.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from typing import Any

import httpx

from contracts import Topics
from devstack.services import (
    PlatformConfig,
    RunningService,
    publish_airspace,
    start_service,
    stop_all,
    wait_until_ready,
)
from devstack.settings import StackSettings

ORIGIN = "http://127.0.0.1"


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def running_api(
    stack: StackSettings,
    topics: Topics,
    dsn: str,
    *,
    with_sink: bool = True,
    extra_env: dict[str, str] | None = None,
    with_airspace: bool = True,
) -> Iterator[PlatformConfig]:
    """The airspace published, the API (and the sink) up and ready; stopped on exit."""
    config = PlatformConfig(
        stack=stack,
        database=dsn.rsplit("/", 1)[1],
        topic_prefix=topics.prefix,
        api_port=free_port(),
    )
    logs = stack.home / "test-logs" / topics.prefix
    services: list[RunningService] = []
    try:
        if with_airspace:  # the bundled Zurich scenario's, as the platform publishes it
            publish_airspace(config, logs, extra_env=extra_env)
        names = [("projections", ["projections", "sink"])] if with_sink else []
        for name, argv in [*names, ("api", ["api", "serve"])]:
            services.append(start_service(name, argv, config, logs, extra_env))
        wait_until_ready(config.api_url, services)
        yield config
    finally:
        stop_all(services)


PICKUP = {"lat": 47.3800, "lon": 8.5420}
DROPOFF = {"lat": 47.3840, "lon": 8.5460}
"""A short hop inside Zurich's service area, clear of the airport's no-fly zone."""


def request(api: PlatformConfig, key: str) -> dict[str, Any]:
    """Request a delivery from PICKUP to DROPOFF as the business with `key`; the 202 body."""
    response = httpx.post(
        f"{api.api_url}/v1/deliveries",
        headers={"X-API-Key": key},
        json={"pickup": PICKUP, "dropoff": DROPOFF},
    )
    assert response.status_code == 202, response.text
    body: dict[str, Any] = response.json()
    return body


Platform = tuple[PlatformConfig, str, str]
"""A running platform's config, its database's DSN, and a registered business's key
(the end-to-end tests' `platform` fixture, tests/e2e/conftest.py)."""
