"""The API's request and end-to-end latency metrics: bounded labels, the right buckets."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import msgspec
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.hub import TrackingHub
from api.metrics import UNROUTED, ApiMetrics, RequestTimer
from contracts import utc_now
from tests.unit.api.test_tokens_hub import update


def timed_app(metrics: ApiMetrics) -> FastAPI:
    """A small app with a templated route, timed as `create_app` times the real one."""
    app = FastAPI()
    app.add_middleware(RequestTimer)
    app.state.services = SimpleNamespace(metrics=metrics)

    @app.get("/v1/deliveries/{delivery_id}")
    async def delivery(delivery_id: str) -> dict[str, str]:
        return {"delivery_id": delivery_id}

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("a bug")

    return app


def requests(metrics: ApiMetrics, route: str, method: str, status: str) -> float:
    """How many requests the histogram counted with these labels."""
    value = metrics.registry.get_sample_value(
        "dronefleet_api_request_seconds_count",
        {"route": route, "method": method, "status": status},
    )
    return value or 0.0


def test_requests_are_labelled_by_route_template_never_by_id() -> None:
    metrics = ApiMetrics()
    with TestClient(timed_app(metrics), raise_server_exceptions=False) as client:
        for delivery_id in ("d-1", "d-2", "d-3"):
            assert client.get(f"/v1/deliveries/{delivery_id}").status_code == 200
        assert client.get("/no/such/path").status_code == 404
        assert client.request("BREW", "/v1/deliveries/d-1").status_code == 405
        assert client.get("/boom").status_code == 500

    assert requests(metrics, "/v1/deliveries/{delivery_id}", "GET", "200") == 3
    assert requests(metrics, UNROUTED, "GET", "404") == 1
    assert requests(metrics, "/v1/deliveries/{delivery_id}", "other", "405") == 1
    assert requests(metrics, "/boom", "GET", "500") == 1
    exposed = metrics.registry.collect()
    routes = {
        sample.labels.get("route")
        for family in exposed
        if family.name == "dronefleet_api_request_seconds"
        for sample in family.samples
    }
    assert not any(route and "d-" in route for route in routes)


def test_end_to_end_latency_counts_the_fix_age_in_the_budget_buckets() -> None:
    metrics = ApiMetrics()
    hub = TrackingHub()
    metrics.watch(hub)
    assert hub.on_received is not None
    fresh = msgspec.structs.replace(
        update("d1", 1), occurred_at=utc_now() - timedelta(milliseconds=120)
    )
    hub.on_received(fresh)
    metrics.observe_sent("delivery", fresh)
    stale = msgspec.structs.replace(fresh, occurred_at=utc_now() - timedelta(seconds=2))
    metrics.observe_sent("fleet", stale)

    def bucket(name: str, le: str, **labels: str) -> float:
        value = metrics.registry.get_sample_value(f"{name}_bucket", {**labels, "le": le})
        return value or 0.0

    consumer = "dronefleet_tracking_fix_to_consumer_seconds"
    socket = "dronefleet_tracking_fix_to_socket_seconds"
    assert bucket(consumer, "0.1") == 0 and bucket(consumer, "0.25") == 1
    assert bucket(socket, "0.25", socket="delivery") == 1
    assert bucket(socket, "0.25", socket="fleet") == 0
    assert bucket(socket, "2.5", socket="fleet") == 1
