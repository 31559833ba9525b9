"""Two codes' end-to-end runs side by side: latency over every update and CPU per fix.

Why this exists: issue 20's goals are ratios against a baseline run in the same session
(p99 over every update in each of five runs, and the processes' CPU down by 30 %), and
the harness (`python -m loadtest bench-e2e`) writes one JSON per run. This reads the
runs of two labels (e.g. `before-*` and `after-*` folders, each with its
`bench-e2e.json`) and prints the tables BENCHMARKS.md shows: per run, the median and
the worst run by the every-update p99, and the CPU-seconds each process spent per
10,000 fixes produced (its mean CPU share over the window times 10,000 over the
produced rate), with their sums and the ratio of the medians.

Run: `python benchmarks/e2e_side_by_side.py RESULTS_DIR before after`.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any

PROCESS_GROUPS = {
    "streams": "stream worker",
    "kafka": "Kafka",
    "simulator": "simulator",
    "postgres": "PostgreSQL",
    "projections": "sink",
    "api": "API",
}
"""How process names of the harness map to the table's rows (api-2 counts as API)."""


def runs(folder: Path, label: str) -> list[dict[str, Any]]:
    """Every single-worker, single-API result of the label's run folders (`label-N`), by N."""
    found = []
    paths = folder.glob(f"{label}-[0-9]*/bench-e2e.json")
    for path in sorted(paths, key=lambda p: int(p.parent.name.rsplit("-", 1)[1])):
        for result in json.loads(path.read_text())["results"]:
            if result["workers"] == 1 and result.get("api_replicas", 1) == 1:
                found.append({**result, "run": int(path.parent.name.rsplit("-", 1)[1])})
    return found


def cpu_s_per_10k(result: dict[str, Any]) -> dict[str, float]:
    """CPU-seconds per 10,000 fixes produced, per row of `PROCESS_GROUPS`."""
    produced = result["produced_per_s"] or 1.0
    out: dict[str, float] = dict.fromkeys(PROCESS_GROUPS.values(), 0.0)
    for name, figures in result["processes"].items():
        for prefix, row in PROCESS_GROUPS.items():
            if name.startswith(prefix):
                out[row] += figures["cpu_pct"] / 100.0 * 10_000 / produced
    return out


def median_and_worst(results: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    ranked = sorted(results, key=lambda r: r["update_p99_ms"] or float("inf"))
    return ranked[(len(ranked) - 1) // 2], ranked[-1]


def render(folder: Path, before: str, after: str) -> str:
    sides = {before: runs(folder, before), after: runs(folder, after)}
    lines = [
        "| code | run | produced/s | gate/s | every update p50 / p99 ms | updates"
        " | socket p50 / p99 ms | gate hop p99 ms | lost | load avg |",
        "|---|---:|---:|---:|---|---:|---|---:|---:|---:|",
    ]
    for label, results in sides.items():
        for r in results:
            gate = r["hops"].get("gate", {}).get("p99_ms")
            lines.append(
                f"| {label} | {r.get('run', 1)} | {r['produced_per_s']:,.0f}"
                f" | {r['streams_per_s']:,.0f}"
                f" | {r['update_p50_ms']:,.0f} / {r['update_p99_ms']:,.0f}"
                f" | {r['update_samples']:,} | {r['latency_p50_ms']:,.0f} / "
                f"{r['latency_p99_ms']:,.0f} | {gate:,.0f} | {r['lost']} "
                f"| {r.get('load_average_1m_at_end')} |"
            )
    lines += [
        "",
        "| code | runs | median run p50 / p99 ms | worst run p50 / p99 ms |",
        "|---|---:|---|---|",
    ]
    for label, results in sides.items():
        median, worst = median_and_worst(results)
        lines.append(
            f"| {label} | {len(results)} | {median['update_p50_ms']:,.0f} / "
            f"{median['update_p99_ms']:,.0f} | {worst['update_p50_ms']:,.0f} / "
            f"{worst['update_p99_ms']:,.0f} |"
        )
    cpu = {label: [cpu_s_per_10k(r) for r in results] for label, results in sides.items()}
    rows = list(PROCESS_GROUPS.values())
    lines += [
        "",
        f"| CPU-seconds per 10,000 fixes (median of runs) | {before} | {after} | ratio |",
        "|---|---:|---:|---:|",
    ]
    sums = {}
    for label in sides:
        sums[label] = statistics.median(sum(one.values()) for one in cpu[label])
    for row in rows:
        b = statistics.median(one[row] for one in cpu[before])
        a = statistics.median(one[row] for one in cpu[after])
        lines.append(f"| {row} | {b:.2f} | {a:.2f} | {a / b if b else float('nan'):.2f} |")
    lines.append(
        f"| **all processes** | {sums[before]:.2f} | {sums[after]:.2f} "
        f"| **{sums[after] / sums[before]:.2f}** |"
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("before")
    parser.add_argument("after")
    args = parser.parse_args()
    print(render(args.folder, args.before, args.after))


if __name__ == "__main__":
    main()
