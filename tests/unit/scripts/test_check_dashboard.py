"""`scripts/check_dashboard.py` (in `make lint`): the real dashboard passes, mistakes are named.

It runs the real promtool that `make lint` builds into .cache/go/bin: no network, no
Prometheus server, a second or so.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]
DASHBOARD = ROOT / "deploy" / "grafana" / "dronefleet.json"


def load_check() -> ModuleType:
    path = ROOT / "scripts" / "check_dashboard.py"
    spec = importlib.util.spec_from_file_location("check_dashboard", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def check(dashboard: Path, k8s_copy: Path) -> int:
    result: int = load_check().main(["--dashboard", str(dashboard), "--k8s-copy", str(k8s_copy)])
    return result


def edited(tmp_path: Path, edit: Callable[[dict[str, Any]], None]) -> Path:
    """A copy of the dashboard, changed by `edit`, with its Kubernetes copy beside it."""
    document = json.loads(DASHBOARD.read_text())
    edit(document)
    path = tmp_path / "dronefleet.json"
    path.write_text(json.dumps(document, indent=2) + "\n")
    shutil.copy(path, tmp_path / "k8s-copy.json")
    return path


def first_query(document: dict[str, Any]) -> dict[str, Any]:
    panel = next(p for p in document["panels"] if p["type"] != "row")
    target: dict[str, Any] = panel["targets"][0]
    return target


def test_the_dashboard_is_valid(capsys: pytest.CaptureFixture[str]) -> None:
    assert check(DASHBOARD, ROOT / "deploy" / "k8s" / "base" / "grafana" / "dronefleet.json") == 0
    assert "OK" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("edit", "named"),
    [
        pytest.param(
            lambda d: first_query(d).update(expr="sum(rate(dronefleet_sink_rows[5m]))"),
            "dronefleet_sink_rows is no series a service exports",
            id="a counter without its _total",
        ),
        pytest.param(
            lambda d: first_query(d).update(expr="sum by (group (dronefleet_consumer_lag_records)"),
            "promtool check rules",
            id="PromQL that does not parse",
        ),
        pytest.param(
            lambda d: first_query(d).update(expr="sum(dronefleet_ws_connections{x=~'$nowhere'})"),
            "unknown variable",
            id="a variable the dashboard does not define",
        ),
        pytest.param(
            lambda d: first_query(d).update(datasource={"type": "prometheus", "uid": "abc"}),
            "not on the ${datasource} variable",
            id="a fixed datasource",
        ),
    ],
)
def test_a_mistake_is_named(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    edit: Callable[[dict[str, Any]], None],
    named: str,
) -> None:
    path = edited(tmp_path, edit)
    assert check(path, tmp_path / "k8s-copy.json") == 1
    assert named in capsys.readouterr().err


def test_a_stale_kubernetes_copy_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stale = tmp_path / "stale.json"
    stale.write_text(DASHBOARD.read_text().replace('"refresh": "30s"', '"refresh": "1m"'))
    assert check(DASHBOARD, stale) == 1
    assert "differs" in capsys.readouterr().err


def test_metric_names_are_the_selected_series_only() -> None:
    names = load_check().metric_names(
        'histogram_quantile(0.99, sum by (namespace, le) (rate(a_bucket{socket="x y"}[5m])))'
        " > on () group_left () rec:budget and b_total offset 1e3 unless c"
    )
    assert names == {"a_bucket", "rec:budget", "b_total", "c"}


def test_the_exported_series_come_from_the_metric_types_of_the_code() -> None:
    series, unreadable = load_check().exported_series(
        ROOT / package for package in ("projections", "simulator", "notifier", "api")
    )
    assert unreadable == []
    assert {"dronefleet_sink_rows_total", "dronefleet_simulator_late_steps_total"} <= series
    assert "dronefleet_api_request_seconds_bucket" in series
    assert "dronefleet_webhook_attempts_total" in series  # declared with its _total
    assert "dronefleet_sink_rows" not in series
