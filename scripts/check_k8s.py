"""Validate the Kubernetes manifests offline: kustomize builds, the schemas, our rules.

Why: no cluster runs on the developers' machines or in CI, so a broken manifest (a
typo'd field, an env var no settings class reads, a secret key the overlay never makes,
a scaler that outgrows the partitions) would only surface on `kubectl apply`. This
script catches those mistakes without a cluster:

1. `kustomize build` of every overlay and of the local overlay with each component
   (kustomize from `make lint`'s Go install into .cache/go/bin, or on PATH, or
   `--kustomize PATH`), in a temporary copy of deploy/k8s whose `secrets.env` is made
   from `secrets.env.example` (the real one is never committed).
2. Every built object against the Kubernetes JSON schemas of each version in
   `KUBERNETES_VERSIONS`, strictly (unknown fields are errors), with the schemas that
   the `kubernetes-validate` package ships: offline, no cluster.
3. Project rules, for what no schema knows: every `DRONEFLEET_<SERVICE>_<FIELD>`
   variable is a field of that service's settings class; every secret key a container
   reads is in `secrets.env.example`; every ConfigMap key read exists; images are
   pinned (no `latest`); every long-running container has resources and, where the
   service serves HTTP, liveness and readiness probes; the KEDA ScaledObject (a custom
   resource, no schema here) targets the stream workers, names the workers' real
   consumer groups and topics, and never scales past the partition count.

Usage: `python scripts/check_k8s.py [--kustomize PATH] [--manifests DIR]`. Exits 1
listing every problem found, 0 when all is valid.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from api.settings import ApiSettings  # noqa: E402
from contracts import Topics  # noqa: E402
from dashboard.settings import DashboardSettings  # noqa: E402
from notifier.settings import NotifierSettings  # noqa: E402
from projections.settings import ProjectionsSettings  # noqa: E402
from streams.settings import StreamsSettings  # noqa: E402

K8S = ROOT / "deploy" / "k8s"
KUBERNETES_VERSIONS = ("1.33.0", "1.37.0")
"""The oldest minor release still supported upstream when this was written, and the newest."""

SETTINGS: dict[str, type[Any]] = {
    "DRONEFLEET_API_": ApiSettings,
    "DRONEFLEET_STREAMS_": StreamsSettings,
    "DRONEFLEET_PROJECTIONS_": ProjectionsSettings,
    "DRONEFLEET_DASHBOARD_": DashboardSettings,
    "DRONEFLEET_NOTIFIER_": NotifierSettings,
}
HTTP_SERVICES_WITHOUT_PROBES: set[str] = set()
"""None now: every long-running service serves `/healthz` and `/readyz` (`runtime.probes`)."""

Objects = list[dict[str, Any]]


def builds(kustomize: str, workdir: Path) -> Iterator[tuple[str, Objects]]:
    """Every overlay, and the local overlay with each component, built."""
    overlays = sorted(p for p in (workdir / "overlays").iterdir() if p.is_dir())
    for overlay in overlays:
        yield f"overlays/{overlay.name}", build(kustomize, overlay)
    for component in sorted(p for p in (workdir / "components").iterdir() if p.is_dir()):
        probe = workdir / "overlays" / f"_with_{component.name}"
        probe.mkdir()
        (probe / "kustomization.yaml").write_text(
            yaml.safe_dump(
                {
                    "apiVersion": "kustomize.config.k8s.io/v1beta1",
                    "kind": "Kustomization",
                    "resources": ["../local"],
                    "components": [f"../../components/{component.name}"],
                }
            )
        )
        yield f"overlays/local + components/{component.name}", build(kustomize, probe)


def build(kustomize: str, directory: Path) -> Objects:
    """`kustomize build DIRECTORY`, parsed."""
    done = subprocess.run(
        [kustomize, "build", str(directory)], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise BuildError(f"kustomize build {directory.name}: {done.stderr.strip()}")
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


class BuildError(Exception):
    """A kustomization does not build."""


def schema_problems(objects: Objects) -> Iterator[str]:
    """What the Kubernetes schemas refuse, per version; custom resources are ruled apart."""
    for obj in objects:
        if obj["apiVersion"].startswith("keda.sh/"):
            continue  # no schema ships for KEDA: `scaler_problems` checks what matters
        for version in KUBERNETES_VERSIONS:
            try:
                kubernetes_validate.validate(obj, version, strict=True)
            except kubernetes_validate.ValidationError as error:
                where = list(error.path)
                yield f"{name(obj)} (Kubernetes {version}): {error.message} at {where}"
            except kubernetes_validate.SchemaNotFoundError:
                yield f"{name(obj)}: no Kubernetes {version} schema for {obj['apiVersion']}"


def rule_problems(objects: Objects, secret_keys: set[str]) -> Iterator[str]:
    """The project's rules over the built objects (see the module docstring)."""
    config = {
        obj["metadata"]["name"]: set(obj.get("data", {}))
        for obj in objects
        if obj["kind"] == "ConfigMap"
    }
    for obj in objects:
        for container in containers(obj):
            where = f"{name(obj)} container {container['name']}"
            image = container.get("image", "")
            if ":" not in image or image.endswith(":latest"):
                yield f"{where}: image {image!r} is not pinned to a tag"
            if obj["kind"] != "Job" and "limits" not in container.get("resources", {}):
                yield f"{where}: no resource limits"
            if "requests" not in container.get("resources", {}):
                yield f"{where}: no resource requests"
            wants_probes = obj["kind"] in ("Deployment", "StatefulSet")
            if wants_probes and obj["metadata"]["name"] not in HTTP_SERVICES_WITHOUT_PROBES:
                for probe in ("livenessProbe", "readinessProbe"):
                    if probe not in container:
                        yield f"{where}: no {probe}"
            for env in container.get("env", []):
                yield from env_problems(where, env, config, secret_keys)
            for source in container.get("envFrom", []):
                ref = source.get("configMapRef", {}).get("name")
                if ref is not None and ref not in config:
                    yield f"{where}: envFrom names no ConfigMap {ref!r}"


def env_problems(
    where: str, env: dict[str, Any], config: dict[str, set[str]], secret_keys: set[str]
) -> Iterator[str]:
    """An env var no settings class reads, or a reference to a key nobody provides."""
    var = env["name"]
    for prefix, settings in SETTINGS.items():
        if var.startswith(prefix):
            field = var[len(prefix) :].lower()
            if field not in settings.model_fields:
                yield f"{where}: {var} is no field of {settings.__name__}"
    source = env.get("valueFrom", {})
    if "secretKeyRef" in source and source["secretKeyRef"]["key"] not in secret_keys:
        key = source["secretKeyRef"]["key"]
        yield f"{where}: {var} reads secret key {key!r}, not in secrets.env.example"
    if "configMapKeyRef" in source:
        ref = source["configMapKeyRef"]
        if ref["key"] not in config.get(ref["name"], set()):
            yield f"{where}: {var} reads {ref['name']}/{ref['key']}, which no ConfigMap has"


def scaler_problems(objects: Objects) -> Iterator[str]:
    """The lag scaler targets the workers, their real groups and topics, within the partitions."""
    streams = StreamsSettings()
    kafka = next(
        o
        for o in objects
        if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "dronefleet-kafka"
    )
    partitions = int(kafka["data"]["PARTITIONS"])
    topics = Topics.with_prefix(kafka["data"]["TOPIC_PREFIX"], partitions)
    statefulsets = {o["metadata"]["name"] for o in objects if o["kind"] == "StatefulSet"}
    for obj in objects:
        if obj["kind"] != "ScaledObject":
            continue
        spec = obj["spec"]
        target = spec["scaleTargetRef"]
        if target.get("kind") != "StatefulSet" or target["name"] not in statefulsets:
            yield f"{name(obj)}: scales {target}, which is not a built StatefulSet"
        if spec["maxReplicaCount"] > partitions:
            most = spec["maxReplicaCount"]
            yield f"{name(obj)}: maxReplicaCount {most} > {partitions} partitions"
        groups = {streams.gate_group, streams.deliveries_group}
        names = {topic.name for topic in topics.all()}
        for trigger in spec["triggers"]:
            meta = trigger["metadata"]
            if meta["consumerGroup"] not in groups:
                group = meta["consumerGroup"]
                yield f"{name(obj)}: consumer group {group!r} is none of {sorted(groups)}"
            if "topic" in meta and meta["topic"] not in names:
                yield f"{name(obj)}: topic {meta['topic']!r} is not a platform topic"


def containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    """The containers of a workload's pod template, or none."""
    template = obj.get("spec", {}).get("template", {})
    if obj["kind"] == "CronJob":
        template = obj["spec"]["jobTemplate"]["spec"]["template"]
    spec = template.get("spec", {})
    return [*spec.get("initContainers", []), *spec.get("containers", [])]


def name(obj: dict[str, Any]) -> str:
    """Kind/name, as kubectl says it."""
    return f"{obj['kind']}/{obj['metadata']['name']}"


def find_kustomize(explicit: str | None) -> str:
    """The kustomize binary: the flag, `make lint`'s install, or PATH."""
    for candidate in (explicit, str(ROOT / ".cache" / "go" / "bin" / "kustomize")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("kustomize")
    if found is None:
        raise SystemExit("kustomize not found: `make lint` installs it into .cache/go/bin")
    return found


def main(argv: list[str] | None = None) -> int:
    """Build, validate and check every kustomization; print the problems."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kustomize", help="the kustomize binary")
    parser.add_argument("--manifests", type=Path, default=K8S, help="the deploy/k8s tree")
    options = parser.parse_args(argv)
    kustomize = find_kustomize(options.kustomize)
    manifests: Path = options.manifests
    example = manifests / "overlays" / "local" / "secrets.env.example"
    secret_keys = {
        line.split("=", 1)[0]
        for line in example.read_text().splitlines()
        if line and not line.startswith("#")
    }
    problems: list[str] = []
    checked = 0
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp) / "k8s"
        shutil.copytree(manifests, workdir, ignore=shutil.ignore_patterns("secrets.env"))
        shutil.copy(example, workdir / "overlays" / "local" / "secrets.env")
        try:
            for label, objects in builds(kustomize, workdir):
                found = [
                    *schema_problems(objects),
                    *rule_problems(objects, secret_keys),
                    *scaler_problems(objects),
                ]
                problems.extend(f"{label}: {problem}" for problem in found)
                checked += len(objects)
                print(f"{label}: {len(objects)} objects, {len(found)} problems")
        except BuildError as error:
            problems.append(str(error))
    for problem in problems:
        print(f"  {problem}", file=sys.stderr)
    if problems:
        return 1
    print(f"k8s: {checked} objects valid on Kubernetes {', '.join(KUBERNETES_VERSIONS)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
