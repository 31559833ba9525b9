"""Registration while the projection lags: 202 `pending`, and the key works once projected.

The API runs without a sink here, so the read model cannot learn the new key within
`registration_wait_s`; then the real sink runs and the same key is accepted.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx

from contracts import Topics
from devstack.settings import StackSettings
from projections.settings import ProjectionsSettings
from tests.support.api_platform import running_api
from tests.support.sink_helpers import run_sink_until_consumed


def test_a_pending_key_starts_working_when_the_sink_catches_up(
    running_stack: StackSettings, topics: Topics, fresh_database: Callable[[], str]
) -> None:
    dsn = fresh_database()
    env = {"DRONEFLEET_API_REGISTRATION_WAIT_S": "0.5"}
    with running_api(running_stack, topics, dsn, with_sink=False, extra_env=env) as api:
        response = httpx.post(
            f"{api.api_url}/v1/businesses",
            headers={"X-Operator-Key": api.operator_key},
            json={"name": "early bird", "contact": "early@example.com"},
        )
        assert response.status_code == 202, response.text
        assert response.json()["status"] == "pending"
        me = f"{api.api_url}/v1/businesses/me"
        key = {"X-API-Key": response.json()["api_key"]}
        assert httpx.get(me, headers=key).status_code == 401, "not projected yet"

        run_sink_until_consumed(
            ProjectionsSettings(
                kafka_bootstrap=running_stack.kafka_bootstrap,
                topic_prefix=topics.prefix,
                database_url=dsn,
            ),
            records=2,  # the airspace the platform published at start, and the registration
        )
        answer = httpx.get(me, headers=key)
        assert answer.status_code == 200 and answer.json()["name"] == "early bird"
