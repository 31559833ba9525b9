"""The stack's Prometheus: one version everywhere, and the lag exporter watches the real groups."""

from __future__ import annotations

import re

from devstack.services import PlatformConfig
from devstack.settings import REPO_ROOT, StackSettings
from projections.settings import ProjectionsSettings
from streams.settings import StreamsSettings


def test_make_builds_the_version_the_stack_runs() -> None:
    makefile = (REPO_ROOT / "Makefile").read_text()
    version = re.search(r"^PROMETHEUS_VERSION := (\S+)$", makefile, re.MULTILINE)
    assert version is not None
    assert version.group(1) == StackSettings().prometheus_version


def test_the_lag_groups_are_the_worker_s_and_the_sink_s() -> None:
    config = PlatformConfig(stack=StackSettings(), database="d", topic_prefix="p-")
    streams = StreamsSettings(topic_prefix="p-")
    sink = ProjectionsSettings(topic_prefix="p-")
    # The sink's group, as projections.source names it.
    assert config.lag_groups() == [*streams.groups, f"p-projections-{sink.projection}"]


def test_the_namespace_label_is_the_prefix_or_main() -> None:
    stack = StackSettings()
    assert PlatformConfig(stack=stack, database="d", topic_prefix="t1234-").namespace == "t1234"
    assert PlatformConfig(stack=stack, database="d").namespace == "main"


def test_each_service_s_metrics_port_reaches_its_settings() -> None:
    config = PlatformConfig(
        stack=StackSettings(),
        database="d",
        projections_metrics_port=9201,
        simulator_metrics_port=9202,
        log_format="json",
    )
    env = config.environment()
    assert env["DRONEFLEET_PROJECTIONS_METRICS_PORT"] == "9201"
    assert env["DRONEFLEET_SIMULATOR_METRICS_PORT"] == "9202"
    assert "DRONEFLEET_STREAMS_METRICS_PORT" not in env
    assert {env[f"DRONEFLEET_{s}_LOG_FORMAT"] for s in ("API", "STREAMS")} == {"json"}
