"""The probe endpoint: live while the loop turns, ready as the service says, its metrics."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import Iterator

import httpx
import pytest
from prometheus_client import CollectorRegistry, Counter

from runtime.probes import Heartbeat, Probes, ProbeServer, serve_probes


class FrozenHeartbeat(Heartbeat):
    """A heartbeat whose age the test sets."""

    age = 0.0

    def age_s(self) -> float:
        return self.age


@pytest.fixture
def served() -> Iterator[tuple[Probes, str]]:
    registry = CollectorRegistry()
    Counter("dronefleet_test_things", "Things.", registry=registry).inc(3)
    probes = Probes(registry, heartbeat=FrozenHeartbeat(), stalled_after_s=30)
    server = ProbeServer(probes, "127.0.0.1", 0)
    yield probes, f"http://127.0.0.1:{server.port}"
    server.close()


def test_metrics_are_the_registry(served: tuple[Probes, str]) -> None:
    _, url = served
    answer = httpx.get(f"{url}/metrics")
    assert answer.status_code == 200
    assert "dronefleet_test_things_total 3.0" in answer.text


def test_ready_says_why_not(served: tuple[Probes, str]) -> None:
    probes, url = served
    assert httpx.get(f"{url}/readyz").json() == {"status": "ready"}
    probes.ready = lambda: "no database"
    answer = httpx.get(f"{url}/readyz")
    assert answer.status_code == 503
    assert answer.json()["detail"] == "no database"
    assert httpx.get(f"{url}/healthz").status_code == 200  # not ready is no reason to restart


def test_a_stalled_loop_is_not_alive(served: tuple[Probes, str]) -> None:
    probes, url = served
    assert httpx.get(f"{url}/healthz").status_code == 200
    assert isinstance(probes.heartbeat, FrozenHeartbeat)
    probes.heartbeat.age = 31.0
    answer = httpx.get(f"{url}/healthz")
    assert answer.status_code == 503
    assert "31 s" in answer.json()["detail"]
    assert httpx.get(f"{url}/readyz").status_code == 503


def test_unknown_path_is_404(served: tuple[Probes, str]) -> None:
    assert httpx.get(f"{served[1]}/nope").status_code == 404


def test_serving_times_the_collector_while_it_runs() -> None:
    registry = CollectorRegistry()
    probes = Probes.of_process(registry)

    async def scenario() -> float:
        serving = asyncio.create_task(serve_probes(probes, "127.0.0.1", 0))
        await asyncio.sleep(0.05)
        gc.collect()
        serving.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await serving
        return registry.get_sample_value("dronefleet_gc_pause_seconds_count", {"generation": "2"})

    assert asyncio.run(scenario()) == 1.0
    gc.collect()  # after serving: no longer timed
    assert (
        registry.get_sample_value("dronefleet_gc_pause_seconds_count", {"generation": "2"}) == 1.0
    )
