"""The Kubernetes manifests build and validate offline, and the check catches mistakes.

`scripts/check_k8s.py` runs in `make lint`; here it runs on the real tree (it must pass)
and on broken copies (it must name each mistake), with the real kustomize binary that
`make lint` and `make test` build into .cache/go/bin. And `dronefleet topics`, which
the manifests' topics Job runs, creates the contracts' layout on a real broker.
"""

from __future__ import annotations

import asyncio
import importlib.util
import secrets
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

from contracts import Topics
from devstack.settings import StackSettings
from kafkaio.admin import admin_client

ROOT = Path(__file__).resolve().parents[2]
KUSTOMIZE = ROOT / ".cache" / "go" / "bin" / "kustomize"


def load_check() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_k8s", ROOT / "scripts" / "check_k8s.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def check(manifests: Path) -> int:
    result: int = load_check().main(["--kustomize", str(KUSTOMIZE), "--manifests", str(manifests)])
    return result


def broken(tmp_path: Path, file: str, edit: Callable[[str], str]) -> Path:
    copy = tmp_path / "k8s"
    shutil.copytree(ROOT / "deploy" / "k8s", copy)
    target = copy / file
    text = target.read_text()
    changed = edit(text)
    assert changed != text, "the edit must change the file"
    target.write_text(changed)
    return copy


def test_the_manifests_build_and_validate(capsys: pytest.CaptureFixture[str]) -> None:
    assert check(ROOT / "deploy" / "k8s") == 0
    assert "objects valid on Kubernetes" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("file", "old", "new", "named"),
    [
        ("base/api.yaml", "DRONEFLEET_API_PUBLIC_URL", "DRONEFLEET_API_PUBLIK_URL", "no field"),
        ("base/streams.yaml", "podManagementPolicy", "podManagementPolicee", "unexpected"),
        ("base/api.yaml", "key: api-operator-key", "key: operator", "secret key"),
        ("base/dashboard.yaml", "readinessProbe", "readinessProbes", "unexpected"),
        (
            "components/keda-lag-scaling/scaledobject.yaml",
            "maxReplicaCount: 4",
            "maxReplicaCount: 8",
            "partitions",
        ),
        ("base/timescaledb.yaml", "timescaledb:2.23.0-pg16", "timescaledb:latest", "pinned"),
    ],
)
def test_a_mistake_is_named(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    file: str,
    old: str,
    new: str,
    named: str,
) -> None:
    assert check(broken(tmp_path, file, lambda text: text.replace(old, new, 1))) == 1
    assert named in capsys.readouterr().err


def test_dronefleet_topics_creates_the_contracts_layout_once(
    running_stack: StackSettings,
) -> None:
    prefix = f"k{secrets.token_hex(4)}-"
    command = [
        str(Path(sys.executable).with_name("dronefleet")), "topics",
        "--bootstrap", running_stack.kafka_bootstrap, "--prefix", prefix, "--partitions", "2",
    ]  # fmt: skip
    first = subprocess.run(command, capture_output=True, text=True, check=True, timeout=120)
    layout = Topics.with_prefix(prefix, 2)
    assert all(spec.name in first.stdout for spec in layout.all())
    again = subprocess.run(command, capture_output=True, text=True, check=True, timeout=120)
    assert "all present" in again.stdout

    async def partitions() -> dict[str, int]:
        async with admin_client(running_stack.kafka_bootstrap) as admin:
            described = await admin.describe_topics([spec.name for spec in layout.all()])
        return {topic["topic"]: len(topic["partitions"]) for topic in described}

    assert asyncio.run(partitions()) == {spec.name: spec.partitions for spec in layout.all()}
