"""The probe endpoint: live while the loop turns, ready as the service says, its metrics."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from prometheus_client import CollectorRegistry, Counter

from runtime.probes import Heartbeat, Probes, ProbeServer


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
