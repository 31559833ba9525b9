"""The real Prometheus of the local stack scrapes every service of a running platform, and
fires the lag alert when the stream worker stalls while the drones keep reporting.

The worker is stopped with SIGSTOP, not killed: a stalled consumer (a hung event loop, a
deadlock) is the case no process supervisor notices, and the alert must. Its consumer
groups keep their committed offsets while the simulator's telemetry piles up behind
them; the lag exporter reads both from Kafka, and `DronefleetConsumerStalled`
(deploy/prometheus/alerts.yml) fires once a partition with records waiting has seen no
commit for a minute (30 s `for`).

The services log JSON here, as in Compose and Kubernetes: every line of every service's
log must be one JSON object with its service's name.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from contracts import Topics
from devstack.prometheus import PrometheusNode
from devstack.services import PlatformConfig, RunningService, start_platform, stop_all
from devstack.settings import StackSettings
from tests.support.api_platform import free_port
from tests.support.prometheus import alerts, query, targets_by_service, wait_until

SERVICES = {"api", "streams", "projections", "simulator", "lag-exporter"}


@pytest.fixture(scope="module")
def observed(
    running_stack: StackSettings, topics: Topics, fresh_database: Callable[[], str]
) -> Iterator[tuple[PlatformConfig, list[RunningService], Path]]:
    """A platform with every metrics port and the lag exporter, logging JSON."""
    dsn = fresh_database()
    config = PlatformConfig(
        stack=running_stack,
        database=dsn.rsplit("/", 1)[1],
        topic_prefix=topics.prefix,
        api_port=free_port(),
        streams_metrics_port=free_port(),
        projections_metrics_port=free_port(),
        simulator_metrics_port=free_port(),
        lag_exporter_port=free_port(),
        log_format="json",
    )
    logs = running_stack.home / "test-logs" / config.topic_prefix
    services = start_platform(config, logs, ["--drones", "3", "--telemetry-hz", "2"])
    try:
        yield config, services, logs
    finally:
        for service in services:
            if service.alive():
                os.kill(service.process.pid, signal.SIGCONT)  # a stopped process ignores TERM
        stop_all(services)


def test_every_service_is_scraped_and_up(
    observed: tuple[PlatformConfig, list[RunningService], Path],
) -> None:
    config, _, _ = observed
    node = PrometheusNode(config.stack)
    assert node.healthy(), f"the stack's Prometheus at {node.url} (dronefleet stack up)"

    def all_up() -> dict[str, str] | None:
        health = targets_by_service(node, config.namespace)
        return health if set(health) == SERVICES and set(health.values()) == {"up"} else None

    wait_until(all_up, 90, f"every service of {config.namespace} scraped and up")
    gate_lag = (
        f'dronefleet_consumer_lag_records{{namespace="{config.namespace}",'
        f'group="{config.lag_groups()[1]}"}}'
    )
    # A group appears once it has committed: the gate's first batch of the drones' fixes.
    wait_until(lambda: query(node, gate_lag), 60, "the lag exporter reporting the gate's group")


def test_the_lag_alert_fires_when_the_worker_stalls(
    observed: tuple[PlatformConfig, list[RunningService], Path],
) -> None:
    config, services, _ = observed
    node = PrometheusNode(config.stack)
    gate_group = config.lag_groups()[1]
    wait_until(
        lambda: query(
            node,
            f'sum(rate(dronefleet_consumer_committed_offset{{namespace="{config.namespace}",'
            f'group="{gate_group}"}}[30s])) > 0',
        ),
        120,
        "the gate committing the drones' telemetry",
    )
    assert not [a for a in alerts(node, config.namespace) if a["state"] == "firing"]

    worker = next(service for service in services if service.name == "streams")
    os.kill(worker.process.pid, signal.SIGSTOP)
    try:

        def lag_alert() -> dict[str, object] | None:
            return next(
                (
                    alert
                    for alert in alerts(node, config.namespace)
                    if alert["labels"]["alertname"] == "DronefleetConsumerStalled"
                    and alert["labels"]["group"] == gate_group
                    and alert["state"] == "firing"
                ),
                None,
            )

        fired = wait_until(lag_alert, 240, "DronefleetConsumerStalled firing for the gate")
    finally:
        os.kill(worker.process.pid, signal.SIGCONT)
    labels = fired["labels"]
    assert isinstance(labels, dict)
    assert labels["topic"] == f"{config.topic_prefix}telemetry"
    assert labels["severity"] == "critical"


def test_every_log_line_is_json_with_its_service(
    observed: tuple[PlatformConfig, list[RunningService], Path],
) -> None:
    _, services, _ = observed
    for service in services:
        lines = service.log_file.read_text().splitlines()
        assert lines, f"{service.name} logged something"
        for line in lines:
            record = json.loads(line)
            assert record["service"] in (service.name, "streams"), line  # the exporter's too
            assert {"time", "level", "logger", "message"} <= set(record)
