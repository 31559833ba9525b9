"""`scripts/check_compose.py`'s Grafana rules: compose.yaml's service passes, mistakes are named."""

from __future__ import annotations

import copy
import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]


def load_check() -> ModuleType:
    path = ROOT / "scripts" / "check_compose.py"
    spec = importlib.util.spec_from_file_location("check_compose", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def grafana() -> dict[str, Any]:
    service: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())["services"][
        "grafana"
    ]
    return service


def test_compose_s_grafana_passes() -> None:
    assert load_check().grafana_problems(grafana()) == []


def unpinned(service: dict[str, Any]) -> None:
    service["image"] = "grafana/grafana:latest"


def anonymous(service: dict[str, Any]) -> None:
    service["environment"]["GF_AUTH_ANONYMOUS_ENABLED"] = "true"


def without_dashboard(service: dict[str, Any]) -> None:
    service["volumes"] = [v for v in service["volumes"] if "dronefleet.json" not in v]


@pytest.mark.parametrize(
    ("edit", "named"),
    [
        (unpinned, "not pinned"),
        (anonymous, "GF_AUTH_ANONYMOUS_ENABLED=false"),
        (without_dashboard, "must mount ./deploy/grafana/dronefleet.json"),
    ],
)
def test_a_mistake_is_named(edit: Any, named: str) -> None:
    service = copy.deepcopy(grafana())
    edit(service)
    problems = load_check().grafana_problems(service)
    assert any(named in problem for problem in problems), problems
