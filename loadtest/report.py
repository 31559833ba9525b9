"""Markdown tables of the chaos and benchmark results. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub markdown table; numbers right-aligned."""
    numeric = [
        all(isinstance(row[i], int | float) for row in rows) and bool(rows)
        for i in range(len(headers))
    ]
    lines = [
        "| " + " | ".join(headers) + " |",
        "|" + "|".join("---:" if n else "---" for n in numeric) + "|",
    ]
    for row in rows:
        lines.append("| " + " | ".join(_cell(v) for v in row) + " |")
    return "\n".join(lines)


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def chaos_table(results: Sequence[Mapping[str, Any]]) -> str:
    """One row per scenario: events, loss, duplicates, poison, recovery."""
    rows = []
    for r in results:
        f = r["figures"]
        recoveries = [
            f"{s['kind']}@{s['at_s']:.0f}s: "
            + "/".join("-" if v is None else f"{v:.0f}" for v in s["recovery_s"].values())
            for s in r["faults"]
            if s["kind"] != "poison"
        ]
        rows.append(
            [
                r["scenario"],
                f["topic_records"],
                f["lost"],
                f["telemetry_rows_lost"],
                f["gate_lost"],
                f["duplicates"],
                f["tracking_duplicate_rows"],
                f.get("processing_errors", 0),
                f"{f['poison_dead_lettered']}/{f['poison_sent']}",
                f"{f['undecodable_in_topic'] - f['undecodable_not_dead_lettered']}"
                f"/{f['undecodable_in_topic']}",
                int(r["simulator"].get("send_errors", 0)),
                sum(len(s.get("silent_partitions", [])) for s in r["faults"]),
                ", ".join(r["restarted_after_crash"]) or "-",
                "; ".join(recoveries) or "-",
            ]
        )
    return table(
        [
            "scenario",
            "telemetry records",
            "lost (all)",
            "rows lost",
            "gate lost",
            "duplicate rows",
            "of which tracking",
            "processing errors",
            "poison dead-lettered",
            "undecodable dead-lettered",
            "producer send errors",
            "partitions silent after a fault",
            "crashed and restarted",
            "recovery s (gate/deliveries/sink)",
        ],
        rows,
    )
