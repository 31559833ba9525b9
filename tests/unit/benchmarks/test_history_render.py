"""`history_bench.render`: the TimescaleDB (WASM) columns beside the PostgreSQL ones.

`benchmarks/history_bench_timescale.py` writes `history_bench`'s JSON shape with a
`label`; `--render <postgres folder> <timescale folder>` must put its columns after the
PostgreSQL ones, name the server and the fleet in their heads, line each query up with
the same query's row (by reader and name, not by position) and add the compression rows
only where a column has them, leaving a PostgreSQL-only table as it was.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[3]


def load_bench() -> ModuleType:
    path = ROOT / "benchmarks" / "history_bench.py"
    spec = importlib.util.spec_from_file_location("history_bench", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def query(reader: str, name: str, p50: float) -> dict[str, Any]:
    return {"reader": reader, "query": name, "runs": 5, "rows": 1, "p50_ms": p50, "p99_ms": p50}


def result(fixes: int, queries: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    """A result with every field `render` reads."""
    sink = {"sink_rows_per_s": 1000, "queries_meanwhile": 8}
    return {
        "fixes": fixes,
        "drones": 1000,
        "fill": {
            "rows": {"telemetry": fixes, "tracking": 0, "delivery_events": 0},
            "fill_s": 1.0,
            "full_rollup_refresh_s": 0.1,
        },
        "queries": queries,
        "rollup": {"minute_stats_refresh_p50_ms": 9.0, "hourly_outcomes_refresh_p50_ms": 3.0},
        "sink": sink,
        "sink_alone": sink,
        "telemetry_bytes_per_million_fixes": 1,
        "telemetry_and_tracking_bytes_per_million_fixes": 2,
        "retention": {
            "dropped": [],
            "telemetry_rows_removed": 0,
            "bytes_removed": {"telemetry": 0, "tracking": 0},
            "maintain_s": 0.0,
        },
        **extra,
    }


def write(folder: Path, *results: dict[str, Any]) -> Path:
    folder.mkdir()
    for r in results:
        (folder / f"history_{r['fixes']}.json").write_text(json.dumps(r))
    return folder


COMPRESSION = {
    "telemetry": {"bytes_per_million_after": 27, "bytes_per_million_before": 224},
    "tracking": None,
}


def test_timescale_columns_come_after_postgres_with_their_label_and_their_own_rows(
    tmp_path: Path,
) -> None:
    postgres = write(
        tmp_path / "pg",
        result(10_000_000, [query("operator", "fleet page", 0.3), query("api", "old one", 1.0)]),
        result(0, [query("operator", "fleet page", 0.2), query("api", "old one", 1.0)]),
    )
    timescale = write(
        tmp_path / "ts",
        result(
            1_000_000,
            [query("api", "new one", 7.0), query("operator", "fleet page", 19.0)],
            label="TimescaleDB (WASM)",
            compression=COMPRESSION,
        ),
    )
    lines = load_bench().render(postgres, timescale).splitlines()
    assert lines[0] == (
        "| reader | query | N = 0: p50 / p99 ms | N = 10,000,000: p50 / p99 ms"
        " | TimescaleDB (WASM), N = 1,000,000 (1,000 drones): p50 / p99 ms |"
    )
    rows = {tuple(cell.strip() for cell in line.split("|")[1:3]): line for line in lines[2:]}
    assert rows[("operator", "fleet page")].endswith(
        "| 0.2 / 0.2 (1 rows, 5 runs) | 0.3 / 0.3 (1 rows, 5 runs) | 19.0 / 19.0 (1 rows, 5 runs) |"
    )
    assert rows[("api", "old one")].endswith("| - |")
    assert rows[("api", "new one")].endswith("| - | - | 7.0 / 7.0 (1 rows, 5 runs) |")
    compressed = rows[("", "compressed telemetry bytes per million fixes (before)")]
    assert compressed.endswith("| - | - | 27 (224) |")
    assert rows[("", "compressed tracking bytes per million updates (before)")].endswith(
        "| - | - | - |"
    )


def test_a_postgres_only_table_has_no_label_and_no_compression_rows(tmp_path: Path) -> None:
    postgres = write(tmp_path / "pg", result(0, [query("operator", "fleet page", 0.2)]))
    table = load_bench().render(postgres)
    assert table.splitlines()[0] == "| reader | query | N = 0: p50 / p99 ms |"
    assert "compressed" not in table
    assert "TimescaleDB" not in table
