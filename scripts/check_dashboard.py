"""Check the Grafana dashboard offline: valid JSON, PromQL that parses, metrics that exist.

Why: a dashboard is code nobody runs until an incident. A panel whose query has a typo,
or names a metric a rename left behind (`dronefleet_sink_rows` where the series is
`dronefleet_sink_rows_total`), draws an empty graph exactly when an operator needs it,
and no test would notice. This script catches those mistakes without Grafana:

1. `deploy/grafana/dronefleet.json` is JSON with unique panel ids, and every panel but
   the rows has queries, each with an expression, on the `${datasource}` variable (so
   the same file works with Compose's provisioned Prometheus and with a cluster's).
2. Every expression parses: Grafana's variables are replaced by values (`$namespace`
   by a name, `$__rate_interval` by `5m`), each expression becomes a recording rule in a
   temporary rules file, and `promtool check rules` parses it (promtool from `make
   lint`'s Go install into .cache/go/bin, or `--promtool PATH`).
3. Every metric a panel or an alert rule names is a series some service exports: the
   names are read from the services' code (each `Counter`, `Gauge`, `Histogram`, ...
   and `...MetricFamily` construction, with the series its type exposes: a counter's
   `_total`, a histogram's `_bucket`, `_sum` and `_count`), plus the rules' recorded
   series and Prometheus's own (`up`, `ALERTS`). A name only known at run time is a
   problem too: the check must see every name.
4. The Kubernetes copy (`deploy/k8s/base/grafana/dronefleet.json`, which kustomize
   needs inside its tree) is the same file.

Usage: `python scripts/check_dashboard.py [--promtool PATH] [--dashboard FILE]`. Exits
1 listing every problem found, 0 when the dashboard is valid.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
DASHBOARD = ROOT / "deploy" / "grafana" / "dronefleet.json"
K8S_COPY = ROOT / "deploy" / "k8s" / "base" / "grafana" / "dronefleet.json"
RULES = ROOT / "deploy" / "prometheus" / "alerts.yml"
SERVICE_PACKAGES = ("api", "streams", "projections", "simulator", "notifier", "runtime", "kafkaio")
"""Where the services' metrics are declared (tests, benchmarks and tools export none)."""

SERIES_SUFFIXES = {
    "Counter": ("_total", "_created"),
    "CounterMetricFamily": ("_total", "_created"),
    "Gauge": ("",),
    "GaugeMetricFamily": ("",),
    "Histogram": ("_bucket", "_sum", "_count", "_created"),
    "HistogramMetricFamily": ("_bucket", "_sum", "_count", "_created"),
    "Summary": ("", "_sum", "_count", "_created"),
    "SummaryMetricFamily": ("", "_sum", "_count", "_created"),
    "Info": ("_info",),
    "InfoMetricFamily": ("_info",),
}
"""The series each metric type of prometheus_client exposes, by the name it was given."""

PROMETHEUS_SERIES = frozenset({"up", "ALERTS", "ALERTS_FOR_STATE"})
"""Series Prometheus makes itself: the scrape's `up` and the firing alerts."""

VARIABLES = {"__rate_interval": "5m", "__interval": "1m", "__range": "1h", "namespace": "main"}
"""A value for each Grafana variable the panels may use, to parse their expressions."""

PROMQL_KEYWORDS = frozenset(
    {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset"}
    | {"and", "or", "unless", "atan2", "inf", "nan", "Inf", "NaN", "start", "end"}
)


def main(argv: list[str] | None = None) -> int:
    """Check the dashboard; print every problem and return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--promtool", help="the promtool binary")
    parser.add_argument("--dashboard", type=Path, default=DASHBOARD)
    parser.add_argument("--k8s-copy", type=Path, default=K8S_COPY)
    options = parser.parse_args(argv)
    path: Path = options.dashboard
    try:
        dashboard = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        print(f"{path}: not a JSON dashboard: {error}", file=sys.stderr)
        return 1
    problems = list(shape_problems(dashboard))
    queries = dict(expressions(dashboard))
    problems += promql_problems(find_promtool(options.promtool), queries)
    exported, unknowable = exported_series(ROOT / package for package in SERVICE_PACKAGES)
    problems += unknowable
    rules = yaml.safe_load(RULES.read_text())
    recorded = {rule["record"] for g in rules["groups"] for rule in g["rules"] if "record" in rule}
    known = exported | recorded | PROMETHEUS_SERIES
    for where, expr in [*queries.items(), *rule_expressions(rules)]:
        problems += [
            f"{where}: {name} is no series a service exports"
            for name in sorted(metric_names(expr) - known)
        ]
    k8s_copy: Path = options.k8s_copy
    if not k8s_copy.is_file() or k8s_copy.read_bytes() != path.read_bytes():
        problems.append(f"{k8s_copy} differs from {path}: cp {path} {k8s_copy}")
    for problem in problems:
        print(f"  {problem}", file=sys.stderr)
    if problems:
        print(f"{path}: INVALID ({len(problems)} problems)", file=sys.stderr)
        return 1
    print(f"{path}: OK ({len(queries)} queries, {len(exported)} exported series known)")
    return 0


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, those nested in collapsed rows included."""
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def shape_problems(dashboard: dict[str, Any]) -> Iterator[str]:
    """Unique ids; queries with expressions on the datasource variable."""
    seen: set[int] = set()
    for panel in panels(dashboard):
        pid = panel.get("id")
        if pid in seen or not isinstance(pid, int):
            yield f"panel {panel.get('title')!r}: id {pid!r} is missing or not unique"
        seen.add(pid if isinstance(pid, int) else -1)
        if panel.get("type") == "row":
            continue
        targets = panel.get("targets") or []
        if not targets:
            yield f"panel {panel.get('title')!r}: no queries"
        for target in [panel, *targets]:
            if target.get("datasource", {}).get("uid") != "${datasource}":
                yield f"panel {panel.get('title')!r}: not on the ${{datasource}} variable"
        for target in targets:
            if not str(target.get("expr", "")).strip():
                yield f"panel {panel.get('title')!r} query {target.get('refId')}: no expression"


def expressions(dashboard: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(where, expression) of every query of every panel."""
    for panel in panels(dashboard):
        for target in panel.get("targets", []):
            if target.get("expr"):
                yield f"panel {panel['id']} {target.get('refId')}", str(target["expr"])


def substituted(expr: str) -> str:
    """The expression with Grafana's variables replaced by values PromQL accepts."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        return VARIABLES.get(name, match.group(0))

    return re.sub(r"\$\{(\w+)\}|\$(\w+)", value, expr)


def promql_problems(promtool: str, queries: dict[str, str]) -> list[str]:
    """What `promtool check rules` says of the expressions as recording rules."""
    problems = [
        f"{where}: unknown variable in {expr!r}"
        for where, expr in queries.items()
        if "$" in substituted(expr)
    ]
    rules = [
        {"record": f"dashboard:query_{index}", "expr": substituted(expr)}
        for index, expr in enumerate(queries.values())
    ]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "dashboard_rules.yml"
        path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
        done = subprocess.run(
            [promtool, "check", "rules", str(path)], capture_output=True, text=True, check=False
        )
    if done.returncode != 0:
        where = {f"dashboard:query_{i}": name for i, name in enumerate(queries)}
        output = (done.stdout + done.stderr).strip()
        for record, name in where.items():
            output = output.replace(record, f"{record} ({name})")
        problems.append(f"promtool check rules: {output}")
    return problems


def rule_expressions(rules: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(where, expression) of every alerting and recording rule."""
    for group in rules["groups"]:
        for rule in group["rules"]:
            yield f"rule {rule.get('alert') or rule.get('record')}", str(rule["expr"])


def metric_names(expr: str) -> set[str]:
    """The series an expression selects by name (not functions, labels or keywords)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'', '""', expr)  # strings
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # ranges and subqueries
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set()
    for match in re.finditer(r"(?<![\w.])[A-Za-z_:][\w:]*", text):
        if text[match.end() :].lstrip().startswith("("):
            continue  # a function or an aggregation
        if match.group() not in PROMQL_KEYWORDS:
            names.add(match.group())
    return names


def exported_series(packages: Iterable[Path]) -> tuple[set[str], list[str]]:
    """The series the services' code declares, and the declarations whose name it cannot read."""
    series: set[str] = set()
    problems: list[str] = []
    for package in packages:
        for source in sorted(package.rglob("*.py")):
            module = ast.parse(source.read_text(), str(source))
            dicts = module_dicts(module)
            classes = prometheus_classes(module)
            for call, loops in calls_with_loops(module, {}):
                kind = classes.get(call.func.id) if isinstance(call.func, ast.Name) else None
                if kind is None:
                    continue
                where = f"{source.relative_to(ROOT)}:{call.lineno}"
                names = declared_names(call, loops, dicts)
                if names is None:
                    problems.append(f"{where}: a {kind} whose name the check cannot read")
                    continue
                for name in names:
                    base = name.removesuffix("_total") if kind.startswith("Counter") else name
                    series.update(base + suffix for suffix in SERIES_SUFFIXES[kind])
    return series, problems


def prometheus_classes(module: ast.Module) -> dict[str, str]:
    """Local name -> metric type, of the metric types imported from prometheus_client.

    By import, not by name alone: `collections.Counter` is no metric.
    """
    return {
        alias.asname or alias.name: alias.name
        for node in ast.walk(module)
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("prometheus_client")
        for alias in node.names
        if alias.name in SERIES_SUFFIXES
    }


def module_dicts(module: ast.Module) -> dict[str, list[str]]:
    """Module-level dict literals with string keys, by name (`COUNTERS = {...}`)."""
    found = {}
    for node in module.body:
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        if not isinstance(value, ast.Dict):
            continue
        keys = [k.value for k in value.keys if isinstance(k, ast.Constant)]
        if len(keys) == len(value.keys) and all(isinstance(k, str) for k in keys):
            for target in targets:
                if isinstance(target, ast.Name):
                    found[target.id] = [str(k) for k in keys]
    return found


def calls_with_loops(
    node: ast.AST, loops: dict[str, str]
) -> Iterator[tuple[ast.Call, dict[str, str]]]:
    """Every call, with the loop variables bound around it to the dict they iterate."""
    if isinstance(node, ast.For):
        iterated = node.iter
        if isinstance(iterated, ast.Call) and isinstance(iterated.func, ast.Attribute):
            iterated = iterated.func.value  # DICT.items() / DICT.keys()
        target = node.target.elts[0] if isinstance(node.target, ast.Tuple) else node.target
        if isinstance(iterated, ast.Name) and isinstance(target, ast.Name):
            loops = {**loops, target.id: iterated.id}
    if isinstance(node, ast.Call):
        yield node, loops
    for child in ast.iter_child_nodes(node):
        yield from calls_with_loops(child, loops)


def declared_names(
    call: ast.Call, loops: dict[str, str], dicts: dict[str, list[str]]
) -> list[str] | None:
    """The metric names a construction declares; None when not readable from the code."""
    name = call.args[0] if call.args else None
    for keyword in call.keywords:
        if keyword.arg == "name":
            name = keyword.value
    if isinstance(name, ast.Constant) and isinstance(name.value, str):
        return [name.value]
    if isinstance(name, ast.JoinedStr) and len(name.values) == 2:
        prefix, variable = name.values
        if (
            isinstance(prefix, ast.Constant)
            and isinstance(variable, ast.FormattedValue)
            and isinstance(variable.value, ast.Name)
            and isinstance(prefix.value, str)
            and loops.get(variable.value.id) in dicts
        ):
            return [f"{prefix.value}{key}" for key in dicts[loops[variable.value.id]]]
    return None


def find_promtool(explicit: str | None) -> str:
    """The promtool binary: the flag, `make lint`'s install, or PATH."""
    for candidate in (explicit, str(ROOT / ".cache" / "go" / "bin" / "promtool")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("promtool")
    if found is None:
        raise SystemExit("promtool not found: `make lint` installs it into .cache/go/bin")
    return found


if __name__ == "__main__":
    raise SystemExit(main())
