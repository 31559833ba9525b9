"""The configuration the stack writes for Prometheus is one promtool accepts, services included."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from devstack.prometheus import PrometheusNode
from devstack.settings import StackSettings


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
    assert "SUCCESS: 7 rules found" in checked.stdout, "the alert rules are loaded"
    job = yaml.safe_load((node.scrape_dir / "t-api.yml").read_text())["scrape_configs"][0]
    assert job["static_configs"] == [
        {"targets": ["127.0.0.1:1"], "labels": {"namespace": "t", "service": "api"}}
    ]
    assert job["authorization"]["credentials_file"] == str(node.scrape_dir / "t-api.bearer")
    assert (node.scrape_dir / "t-api.bearer").stat().st_mode & 0o077 == 0, "the key is private"
