"""The API's airspace (`api.airspace`): refusals as problem reasons, and what it keeps."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import get_args

import pytest
from aiokafka.errors import KafkaConnectionError

from api.airspace import AirspaceKeeper
from api.errors import AirspaceUnknownError, ProblemReason, UnservableRequestError
from api.main import create_app
from api.settings import ApiSettings
from contracts import GeoPoint, Unservable, encode_event, utc_now
from kafkaio import last_value
from simulator.world.published import airspace_of
from simulator.world.scenario import default_scenario

HAUPTBAHNHOF = GeoPoint(47.3780, 8.5400)
SYDNEY = GeoPoint(-33.8688, 151.2093)


def test_without_an_airspace_a_request_is_not_judged_but_refused_with_503() -> None:
    with pytest.raises(AirspaceUnknownError) as refused:
        AirspaceKeeper().check(HAUPTBAHNHOF, HAUPTBAHNHOF)
    assert refused.value.status == 503 and refused.value.reason == "airspace_unknown"


def test_an_unservable_request_is_a_422_with_its_reason() -> None:
    keeper = AirspaceKeeper()
    keeper.on_value(encode_event(airspace_of(default_scenario(), utc_now())))
    keeper.check(HAUPTBAHNHOF, GeoPoint(47.3850, 8.5480))
    with pytest.raises(UnservableRequestError) as refused:
        keeper.check(SYDNEY, HAUPTBAHNHOF)
    assert refused.value.status == 422 and refused.value.reason == "outside_service_area"
    assert "outside the service area 'zurich'" in refused.value.detail


def test_unreadable_records_keep_the_airspace_in_force() -> None:
    keeper = AirspaceKeeper()
    first = airspace_of(default_scenario(), utc_now())
    keeper.on_value(encode_event(first))
    keeper.on_value(b"{not json")
    keeper.on_value(b'{"event_type": "AirspacePublished", "schema_version": 1}')
    assert keeper.current == first
    second = airspace_of(default_scenario(), utc_now(), sequence=2)
    keeper.on_value(encode_event(second))
    assert keeper.current == second


def test_the_reasons_are_an_enum_of_the_problem_document() -> None:
    app = create_app(ApiSettings(token_secret="x" * 32))
    schema = app.openapi()["components"]["schemas"]["ProblemPublic"]["properties"]["reason"]
    enum = schema["enum"]
    assert set(enum) == set(get_args(ProblemReason))
    assert set(get_args(Unservable)) <= set(enum) and "airspace_unknown" in enum
    airspace = app.openapi()["paths"]["/v1/airspace"]["get"]
    assert {"200", "401", "503"} <= set(airspace["responses"])


async def test_the_follower_starts_again_after_a_broker_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An API started while the broker is away learns the airspace once it is back."""
    published = encode_event(airspace_of(default_scenario(), utc_now()))
    calls: list[str] = []

    async def flaky(
        bootstrap: str, topic: str, on_value: Callable[[bytes], None], caught_up: asyncio.Event
    ) -> None:
        calls.append(topic)
        if len(calls) == 1:
            raise KafkaConnectionError("the broker is away")
        on_value(published)
        caught_up.set()
        await asyncio.Event().wait()

    monkeypatch.setattr(last_value, "follow_values", flaky)
    monkeypatch.setattr(last_value, "FOLLOW_RETRY_MAX_S", 0.01)
    keeper, caught_up = AirspaceKeeper(), asyncio.Event()
    task = asyncio.create_task(keeper.follow("nowhere:1", "airspace", caught_up))
    try:
        await asyncio.wait_for(caught_up.wait(), 5)
    finally:
        task.cancel()
    assert calls == ["airspace", "airspace"]
    assert keeper.current is not None and keeper.current.name == "zurich"
