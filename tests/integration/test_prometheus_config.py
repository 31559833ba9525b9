"""The stack's Prometheus: a configuration promtool accepts, started once per port, stopped."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from devstack import stack
from devstack.prometheus import PrometheusNode
from devstack.settings import StackSettings
from tests.support.api_platform import free_port

ALERT_RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "alerts.yml"


def test_promtool_accepts_the_stack_s_configuration(
    running_stack: StackSettings, tmp_path: Path
) -> None:
    settings = running_stack.model_copy(update={"home": tmp_path})
    node = PrometheusNode(settings)
    assert node.promtool.exists(), "built by `make install` / `dronefleet stack up`"
    node.configure()
    node.register("t-api", "127.0.0.1:1", {"namespace": "t", "service": "api"}, bearer="k")
    node.register("t-streams", "127.0.0.1:2", {"namespace": "t", "service": "streams"})
    checked = subprocess.run(
        [str(node.promtool), "check", "config", str(node.config_file)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    groups = yaml.safe_load(ALERT_RULES.read_text())["groups"]
    count = sum(len(group["rules"]) for group in groups)  # alerts and recorded series
    assert f"SUCCESS: {count} rules found" in checked.stdout, "the alert rules are loaded"
    job = yaml.safe_load((node.scrape_dir / "t-api.yml").read_text())["scrape_configs"][0]
    assert job["static_configs"] == [
        {"targets": ["127.0.0.1:1"], "labels": {"namespace": "t", "service": "api"}}
    ]
    assert job["authorization"]["credentials_file"] == str(node.scrape_dir / "t-api.bearer")
    assert (node.scrape_dir / "t-api.bearer").stat().st_mode & 0o077 == 0, "the key is private"


def test_a_stack_runs_its_prometheus_and_a_second_leaves_the_port_alone(
    running_stack: StackSettings, tmp_path: Path
) -> None:
    port = free_port()
    own = PrometheusNode(
        running_stack.model_copy(update={"home": tmp_path / "a", "prometheus_port": port})
    )
    other = PrometheusNode(
        running_stack.model_copy(update={"home": tmp_path / "b", "prometheus_port": port})
    )
    try:
        assert own.start(), "started"
        own.wait_healthy(60)
        assert not own.start(), "a second start changes nothing"
        assert not other.start(), "another stack's Prometheus on the port: not an error"
        assert other.pid() is None
    finally:
        assert own.stop()
    assert not own.healthy()


def test_the_shared_stack_runs_prometheus(running_stack: StackSettings) -> None:
    current = stack.status(running_stack)
    assert current.prometheus_running and current.prometheus_healthy


def test_the_jobs_of_services_that_died_are_dropped(
    running_stack: StackSettings, tmp_path: Path
) -> None:
    node = PrometheusNode(running_stack.model_copy(update={"home": tmp_path}))
    gone = subprocess.Popen(["true"])
    gone.wait()
    node.register("t-gone", "127.0.0.1:1", {"namespace": "t", "service": "streams"}, pid=gone.pid)
    with subprocess.Popen(["sleep", "30"]) as alive:
        node.register("t-alive", "127.0.0.1:2", {"namespace": "t", "service": "api"}, pid=alive.pid)
        assert sorted(job.stem for job in node.scrape_dir.glob("*.yml")) == ["t-alive"]
        alive.kill()
    alive.wait()
    assert node.prune() == ["t-alive"]
