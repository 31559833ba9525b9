"""One delivery observed on a running platform: followed through every service's JSON logs
with the README's own command, and timed by the API's metrics.

The platform runs as in the demo with `--log-format json`. A delivery is requested over
REST; the API logs the request, the stream worker's dispatch the drone it proposed, the
sink each of the delivery's events it recorded, each line with the delivery's id as a
field. The command the README shows ("Operations") is taken from the README itself and
run with bash and jq on this platform's log folder, so a README command that stops
working fails here. Then a customer follows a delivery over the websocket, and the API's
`/metrics` has timed the request by its route template and the updates from their fixes
to the consumer and to the socket.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from prometheus_client.parser import text_string_to_metric_families

from contracts import Topics
from devstack.services import PlatformConfig, register_business, start_platform, stop_all
from devstack.settings import REPO_ROOT, StackSettings
from tests.support.api_platform import free_port
from tests.support.api_platform import request as request_delivery
from tests.support.prometheus import wait_until

README_LOGS = ".stack/logs/main"
"""The demo's log folder, as the README's command names it."""

FOLLOWED_BY = {"api", "streams", "projections"}


def readme_command() -> str:
    """The README's command that follows one delivery through the demo's logs."""
    readme = (REPO_ROOT / "README.md").read_text()
    found = re.search(rf"^cat {re.escape(README_LOGS)}/\*\.log \| jq .*$", readme, re.MULTILINE)
    assert found is not None, "README shows how to follow a delivery through the logs"
    return found.group(0)


@pytest.fixture(scope="module")
def logging_json(
    running_stack: StackSettings, topics: Topics, fresh_database: Callable[[], str]
) -> Iterator[tuple[PlatformConfig, str, Path]]:
    """The platform logging JSON, its business's key, and its log folder."""
    dsn = fresh_database()
    config = PlatformConfig(
        stack=running_stack,
        database=dsn.rsplit("/", 1)[1],
        topic_prefix=topics.prefix,
        api_port=free_port(),
        log_format="json",
    )
    logs = running_stack.home / "test-logs" / config.topic_prefix
    services = start_platform(config, logs, ["--drones", "3", "--telemetry-hz", "2"])
    try:
        yield config, register_business(config, "logs shop"), logs
    finally:
        stop_all(services)


def test_the_readme_s_jq_command_finds_the_delivery_in_every_service_s_log(
    logging_json: tuple[PlatformConfig, str, Path],
) -> None:
    config, key, logs = logging_json
    delivery_id = request_delivery(config, key)["delivery_id"]
    command = readme_command().replace(README_LOGS, str(logs)).replace("<id>", delivery_id)

    def followed() -> list[dict[str, object]] | None:
        done = subprocess.run(
            ["bash", "-o", "pipefail", "-c", command], capture_output=True, text=True, check=True
        )
        lines = [json.loads(line) for line in done.stdout.splitlines()]
        return lines if {line["service"] for line in lines} >= FOLLOWED_BY else None

    lines = wait_until(followed, 90, f"{delivery_id} in the logs of {sorted(FOLLOWED_BY)}")
    assert {line["delivery_id"] for line in lines} == {delivery_id}
    assert [line["time"] for line in lines] == sorted(str(line["time"]) for line in lines)

    def said(service: str, words: str) -> bool:
        """Whether any of the service's lines says `words` (the API's last is the quote)."""
        return any(words in str(line["message"]) for line in lines if line["service"] == service)

    assert said("api", "delivery requested")
    assert said("streams", "proposed")
    assert said("projections", "recorded")


async def updates_received(accepted: dict[str, Any], wanted: int, timeout_s: float) -> int:
    """Follow the delivery's socket until `wanted` live updates came (not the snapshot)."""
    received = 0
    async with websockets.connect(
        accepted["websocket_url"], subprotocols=accepted["websocket_subprotocols"]
    ) as connection:

        async def read() -> None:
            nonlocal received
            async for frame in connection:
                if json.loads(frame)["type"] == "update":
                    received += 1
                    if received >= wanted:
                        return

        await asyncio.wait_for(read(), timeout_s)
    return received


def samples(metrics: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """The samples called `name`, by their sorted labels."""
    return {
        tuple(sorted(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(metrics)
        for sample in family.samples
        if sample.name == name
    }


def test_the_api_times_requests_by_route_and_updates_from_their_fix(
    logging_json: tuple[PlatformConfig, str, Path],
) -> None:
    config, key, _ = logging_json
    accepted = request_delivery(config, key)
    assert asyncio.run(updates_received(accepted, 3, 120)) == 3

    operator = {"Authorization": f"Bearer {config.operator_key}"}
    metrics = httpx.get(f"{config.api_url}/metrics", headers=operator, timeout=10).text
    requests = samples(metrics, "dronefleet_api_request_seconds_count")
    posted = (("method", "POST"), ("route", "/v1/deliveries"), ("status", "202"))
    assert requests[posted] >= 1
    assert not [labels for labels in requests if accepted["delivery_id"] in str(labels)]
    to_socket = samples(metrics, "dronefleet_tracking_fix_to_socket_seconds_count")
    assert to_socket[(("socket", "delivery"),)] >= 3
    to_consumer = samples(metrics, "dronefleet_tracking_fix_to_consumer_seconds_count")
    assert to_consumer[()] >= to_socket[(("socket", "delivery"),)]
    within_10_s = samples(metrics, "dronefleet_tracking_fix_to_socket_seconds_bucket")[
        (("le", "10.0"), ("socket", "delivery"))
    ]
    assert within_10_s >= 3, "the fix's age, not the delivery's"
