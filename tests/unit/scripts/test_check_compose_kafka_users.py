"""`scripts/check_compose.py`'s broker rules: every service has its own Kafka user, and the
one-shot that makes the users and ACLs reaches the broker and runs once."""

from __future__ import annotations

import copy
import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[3]


def load_check() -> ModuleType:
    path = ROOT / "scripts" / "check_compose.py"
    spec = importlib.util.spec_from_file_location("check_compose", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def document() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
    return loaded


def test_compose_yaml_passes() -> None:
    assert load_check().project_problems(document()) == []


def test_a_service_without_its_kafka_user_is_named() -> None:
    broken = copy.deepcopy(document())
    del broken["services"]["api"]["environment"]["DRONEFLEET_API_KAFKA_PASSWORD"]
    del broken["services"]["lag-exporter"]["environment"]["DRONEFLEET_STREAMS_KAFKA_USERNAME"]
    problems = load_check().project_problems(broken)
    assert any(p.startswith("api: needs its Kafka user") for p in problems), problems
    assert any(p.startswith("lag-exporter: needs its Kafka user") for p in problems), problems


def test_a_literal_kafka_password_is_refused() -> None:
    broken = copy.deepcopy(document())
    broken["services"]["simulator"]["environment"]["DRONEFLEET_SIMULATOR_KAFKA_PASSWORD"] = "pw"
    problems = load_check().project_problems(broken)
    assert any("DRONEFLEET_SIMULATOR_KAFKA_PASSWORD must be a required" in p for p in problems)


def test_the_acl_one_shot_reaches_the_broker_once() -> None:
    broken = copy.deepcopy(document())
    acls = broken["services"]["kafka-acls"]
    acls["command"] = ["dronefleet", "topics", "--bootstrap", "localhost:29092", "--acls"]
    acls["restart"] = "unless-stopped"
    problems = load_check().project_problems(broken)
    assert "kafka-acls: needs --bootstrap kafka:9092" in problems
    assert 'kafka-acls: a one-shot needs restart: "no"' in problems
