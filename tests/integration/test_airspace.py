"""The airspace end to end: published from the scenario, followed by the API, projected.

The API and the projection sink run as processes (the same `devstack.services` code as
the demo), on this module's topics and database; the airspace is published as the
platform publishes it at start (`dronefleet-simulator publish-airspace`).
"""

from __future__ import annotations

import asyncio
import math
import secrets
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import psycopg
import pytest
from aiokafka import TopicPartition

from contracts import AirspacePublished, Topics, decode_event
from dashboard import queries as dashboard_queries
from devstack import stack
from devstack.services import PlatformConfig
from devstack.settings import StackSettings
from kafkaio.log_range import read_to_end
from simulator.adapters.airspace import publish_airspace
from simulator.world.scenario import DEFAULT_SCENARIO, default_scenario, parse_scenario
from tests.support.api_platform import running_api
from tests.support.kafka_helpers import wait_for

HAUPTBAHNHOF = {"lat": 47.3780, "lon": 8.5400}
NEAR = {"lat": 47.3850, "lon": 8.5480}
OERLIKON = {"lat": 47.4100, "lon": 8.5440}
SYDNEY = {"lat": -33.8688, "lon": 151.2093}
ZURICH_AIRPORT = {"lat": 47.4647, "lon": 8.54917}  # LSZH's reference point
BERN_WAY = {"lat": 47.3780, "lon": 8.5400 - 95_000 / (111_320 * math.cos(math.radians(47.378)))}
"""95 km due west of the Hauptbahnhof (towards Bern)."""


@pytest.fixture(scope="module")
def api(
    running_stack: StackSettings, topics: Topics, fresh_database: Callable[[], str]
) -> Iterator[PlatformConfig]:
    with running_api(running_stack, topics, fresh_database()) as config:
        yield config


def business_key(api: PlatformConfig) -> str:
    response = httpx.post(
        f"{api.api_url}/v1/businesses",
        headers={"X-Operator-Key": api.operator_key},
        json={"name": f"shop {secrets.token_hex(3)}", "contact": "shop@example.com"},
    )
    assert response.status_code == 201, response.text
    key: str = response.json()["api_key"]
    return key


def post(api: PlatformConfig, key: str, pickup: Any, dropoff: Any) -> httpx.Response:
    return httpx.post(
        f"{api.api_url}/v1/deliveries",
        headers={"X-API-Key": key},
        json={"pickup": pickup, "dropoff": dropoff},
    )


def reason_of(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    return str(body["reason"])


async def records_of(bootstrap: str, topic: str, partitions: int) -> list[bytes]:
    values = []
    wanted = [TopicPartition(topic, p) for p in range(partitions)]
    async for batch in read_to_end(bootstrap, wanted):
        values += [record.value for record in batch.records if record.value is not None]
    return values


def test_the_issue_s_impossible_requests_are_refused_at_once_with_their_reasons(
    api: PlatformConfig, topics: Topics
) -> None:
    key = business_key(api)
    assert reason_of(post(api, key, ZURICH_AIRPORT, HAUPTBAHNHOF), 422) == "pickup_in_no_fly_zone"
    assert reason_of(post(api, key, HAUPTBAHNHOF, ZURICH_AIRPORT), 422) == "dropoff_in_no_fly_zone"
    assert reason_of(post(api, key, HAUPTBAHNHOF, BERN_WAY), 422) == "beyond_range"
    assert reason_of(post(api, key, SYDNEY, HAUPTBAHNHOF), 422) == "outside_service_area"
    accepted = post(api, key, HAUPTBAHNHOF, NEAR)
    assert accepted.status_code == 202, accepted.text
    # Only the accepted request is in the log: the refused ones never became history.
    logged = asyncio.run(
        records_of(api.stack.kafka_bootstrap, topics.deliveries.name, topics.deliveries.partitions)
    )
    requested = [decode_event(value) for value in logged]
    assert [getattr(e, "delivery_id", None) for e in requested] == [accepted.json()["delivery_id"]]


def test_the_airspace_is_served_to_the_map_and_projected_for_the_dashboard(
    api: PlatformConfig,
) -> None:
    url = f"{api.api_url}/v1/airspace"
    assert httpx.get(url).status_code == 401
    assert httpx.get(url, headers={"Authorization": "Bearer not-a-token"}).status_code == 401
    key = business_key(api)
    token = post(api, key, HAUPTBAHNHOF, NEAR).json()["tracking_token"]
    for headers in ({"X-API-Key": key}, {"Authorization": f"Bearer {token}"}):
        response = httpx.get(url, headers=headers)
        assert response.status_code == 200, response.text
        assert response.headers["cache-control"] == "private, max-age=60"
    body = response.json()
    scenario = default_scenario()
    assert body["name"] == "zurich" and body["version"] == 1 and body["range_m"] == 20_000
    assert [zone["name"] for zone in body["zones"]] == [zone.name for zone in scenario.zones]
    assert [depot["name"] for depot in body["depots"]] == list(scenario.depot_names)

    def projected() -> dashboard_queries.AirspaceShapes | None:
        with psycopg.connect(api.stack.dsn_for(api.database)) as conn:
            return dashboard_queries.airspace(conn)

    asyncio.run(wait_for(lambda: projected() is not None, 30, "airspace_view to have a row"))
    shapes = projected()
    assert shapes is not None and shapes.name == "zurich"
    assert [zone["name"] for zone in shapes.zones] == [zone.name for zone in scenario.zones]
    assert len(shapes.depots) == len(scenario.depots) and len(shapes.service_area) == 72
    first = scenario.zones[0].boundary[0]
    assert shapes.zones[0]["polygon"][0] == [first.lon, first.lat]


def test_publishing_is_idempotent_and_the_api_follows_every_change(
    running_stack: StackSettings, fresh_database: Callable[[], str]
) -> None:
    """Before any airspace: 503 `airspace_unknown`; then the API follows each version."""
    layout = Topics.with_prefix(f"t{secrets.token_hex(4)}-")
    stack.up(running_stack, layout)
    bootstrap = running_stack.kafka_bootstrap
    with running_api(running_stack, layout, fresh_database(), with_airspace=False) as api:
        key = business_key(api)
        assert reason_of(post(api, key, HAUPTBAHNHOF, NEAR), 503) == "airspace_unknown"
        assert (
            httpx.get(f"{api.api_url}/v1/airspace", headers={"X-API-Key": key}).status_code == 503
        )

        assert asyncio.run(publish_airspace(bootstrap, layout, default_scenario())) is True
        assert asyncio.run(publish_airspace(bootstrap, layout, default_scenario())) is False
        asyncio.run(
            wait_for(
                lambda: post(api, key, HAUPTBAHNHOF, OERLIKON).status_code == 202,
                15,
                "the API to follow the published airspace",
            )
        )

        text = DEFAULT_SCENARIO.read_text(encoding="utf-8")
        shorter = parse_scenario(text.replace("range_m = 20000.0", "range_m = 3000.0"))
        assert asyncio.run(publish_airspace(bootstrap, layout, shorter)) is True
        asyncio.run(
            wait_for(
                lambda: post(api, key, HAUPTBAHNHOF, OERLIKON).status_code == 422,
                15,
                "the API to follow the airspace's change",
            )
        )
        assert reason_of(post(api, key, HAUPTBAHNHOF, OERLIKON), 422) == "beyond_range"
        versions = [
            decode_event(value)
            for value in asyncio.run(records_of(bootstrap, layout.airspace.name, 1))
        ]
        assert [(type(v), v.sequence) for v in versions] == [
            (AirspacePublished, 1),
            (AirspacePublished, 2),
        ]
        airspace = httpx.get(f"{api.api_url}/v1/airspace", headers={"X-API-Key": key}).json()
        assert airspace["version"] == 2 and airspace["range_m"] == 3000.0
