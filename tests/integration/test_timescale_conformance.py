"""The TimescaleDB path against the plain-PostgreSQL path: same views, same answers.

The same migrations, the same rows (`tests.support.projection_dataset`, rendered once as SQL)
and the same queries run on the stack's PostgreSQL and on PGlite with TimescaleDB (a
WASM build driven by `projections/conformance/run.mjs` under Node). Every view of the
read contract must return equal rows, and on PGlite telemetry and tracking must really
be hypertables with compression and retention jobs. Node and the npm package are
required: without them this test fails (run `npm ci` in projections/conformance/).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest

from projections.migrate import ANALYST_ROLE
from projections.rollups import refresh_rollups
from tests.support import projection_dataset

CONFORMANCE = Path(__file__).resolve().parents[2] / "projections" / "conformance"
PACKAGE = CONFORMANCE / "node_modules" / "@unni-craftsman" / "pglite" / "package.json"


def contract_views(conn: psycopg.Connection[Any]) -> dict[str, int]:
    """Every `*_view` of the schema with its number of columns."""
    found = conn.execute(
        "SELECT v.table_name, count(c.column_name) FROM information_schema.views v"
        " JOIN information_schema.columns c"
        "   ON c.table_schema = v.table_schema AND c.table_name = v.table_name"
        " WHERE v.table_schema = current_schema() AND v.table_name LIKE '%\\_view'"
        " GROUP BY v.table_name ORDER BY 1"
    ).fetchall()
    return {str(name): int(n) for name, n in found}


def view_query(name: str, columns: int) -> str:
    """Every row of a view as PostgreSQL's own JSON text, ordered by all its columns."""
    order = ", ".join(str(i) for i in range(1, columns + 1))
    return f"SELECT row_to_json(q)::text AS j FROM (SELECT * FROM {name} ORDER BY {order}) q"


def normalized(value: Any) -> Any:
    """Numbers as floats to 12 significant digits (aggregation order may move the last bits)."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return 0.0 if value == 0 else float(f"{value:.12g}")
    if isinstance(value, list):
        return [normalized(v) for v in value]
    if isinstance(value, dict):
        return {k: normalized(v) for k, v in value.items()}
    raise TypeError(value)


@pytest.fixture(scope="module")
def dataset_sql(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("conformance") / "data.sql"
    path.write_text(projection_dataset.as_sql(projection_dataset.rows()))
    return path


@pytest.fixture(scope="module")
def postgres_side(
    fresh_database: Callable[[], str], dataset_sql: Path
) -> tuple[dict[str, str], dict[str, list[Any]]]:
    """Queries of every contract view, and their rows on the stack's PostgreSQL."""
    dsn = fresh_database()
    data = dataset_sql.read_text()
    with psycopg.connect(dsn, autocommit=True) as conn:
        assert (
            conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'").fetchone()
            is None
        )
        conn.execute(data)  # type: ignore[arg-type]
        conn.execute(data)  # type: ignore[arg-type]
    assert refresh_rollups(dsn) == ["delivery_hourly_outcomes", "drone_minute_stats"]
    with psycopg.connect(dsn, options="-c TimeZone=UTC") as conn:
        queries = {name: view_query(name, n) for name, n in contract_views(conn).items()}
        results = {
            name: [json.loads(row[0]) for row in conn.execute(sql)]  # type: ignore[arg-type]
            for name, sql in queries.items()
        }
    return queries, results


@pytest.fixture(scope="module")
def pglite_side(
    postgres_side: tuple[dict[str, str], dict[str, list[Any]]],
    dataset_sql: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, Any]:
    """The same migrations, rows and queries on PGlite with TimescaleDB."""
    node = shutil.which("node")
    assert node is not None, "node is required for the TimescaleDB conformance test"
    assert PACKAGE.exists(), f"run `npm ci` in {CONFORMANCE} first"
    queries_file = tmp_path_factory.mktemp("conformance") / "queries.json"
    queries_file.write_text(json.dumps(postgres_side[0]))
    done = subprocess.run(
        [
            node,
            str(CONFORMANCE / "run.mjs"),
            "--data",
            str(dataset_sql),
            "--queries",
            str(queries_file),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_pglite_runs_timescaledb(pglite_side: dict[str, Any]) -> None:
    assert str(pglite_side["extension"]).startswith("2.")
    assert pglite_side["continuous_aggregates"] == ["drone_minute_stats"]
    assert pglite_side["matviews"] == ["delivery_hourly_outcomes"]


def test_telemetry_and_tracking_are_compressed_hypertables_on_observed_at(
    pglite_side: dict[str, Any],
) -> None:
    assert pglite_side["hypertables"] == [
        {"hypertable_name": name, "primary_dimension": "observed_at", "compression_enabled": True}
        for name in ("telemetry", "tracking")
    ]


def test_compression_retention_and_refresh_jobs_exist(pglite_side: dict[str, Any]) -> None:
    jobs = {(job["proc_name"], job["hypertable_name"]) for job in pglite_side["jobs"]}
    assert {
        ("policy_compression", "telemetry"),
        ("policy_compression", "tracking"),
        ("policy_retention", "telemetry"),
        ("policy_retention", "tracking"),
        ("policy_refresh_continuous_aggregate", "drone_minute_stats"),
    } <= jobs


def test_chunks_are_sized_to_the_ingest_rate_and_policies_bound_the_history(
    pglite_side: dict[str, Any],
) -> None:
    """0070: an hour a chunk, compressed after 3 h, telemetry kept 7 days, tracking 30."""
    assert pglite_side["chunk_intervals"] == [
        {"hypertable_name": "telemetry", "seconds": 3600},
        {"hypertable_name": "tracking", "seconds": 3600},
    ]
    configs = {
        (p["proc_name"], p["hypertable_name"]): json.loads(p["config"])
        for p in pglite_side["policies"]
    }
    assert configs[("policy_compression", "telemetry")]["compress_after"] == "03:00:00"
    assert configs[("policy_compression", "tracking")]["compress_after"] == "03:00:00"
    assert configs[("policy_retention", "telemetry")]["drop_after"] == "7 days"
    assert configs[("policy_retention", "tracking")]["drop_after"] == "30 days"
    # the continuous aggregate's refresh window stays inside the raw data's retention
    refresh = configs[("policy_refresh_continuous_aggregate", "drone_minute_stats")]
    assert refresh["start_offset"] == "3 days"


def test_both_servers_expose_the_same_contract_views(
    postgres_side: tuple[dict[str, str], dict[str, list[Any]]], pglite_side: dict[str, Any]
) -> None:
    assert sorted(postgres_side[0]) == pglite_side["contract_views"]
    assert {"drone_minute_stats_view", "delivery_hourly_outcomes_view"} <= set(postgres_side[0])


def test_every_view_returns_the_same_rows_on_both(
    postgres_side: tuple[dict[str, str], dict[str, list[Any]]], pglite_side: dict[str, Any]
) -> None:
    expected = postgres_side[1]
    for name, rows in expected.items():
        assert rows, f"{name} is empty on PostgreSQL: the comparison would prove nothing"
        assert normalized(pglite_side["views"][name]) == normalized(rows), name


def test_normalization_still_tells_different_numbers_apart() -> None:
    assert normalized([{"a": 12.0}]) == normalized([{"a": 12}])
    assert normalized([{"a": 12.0000001}]) != normalized([{"a": 12}])


def test_drone_latest_is_state_in_a_plain_table_and_telemetry_history_a_hypertable(
    pglite_side: dict[str, Any],
) -> None:
    assert "drone_latest" in pglite_side["plain_tables"]
    assert "telemetry" not in pglite_side["plain_tables"]
    # and the view over it answers the same on both servers (the test above); not empty:
    assert len(pglite_side["views"]["drone_latest_view"]) == 2


def analyst_grants(dsn: str) -> list[str]:
    with psycopg.connect(dsn) as conn:
        found = conn.execute(
            "SELECT table_name, privilege_type FROM information_schema.role_table_grants"
            " WHERE grantee = %s ORDER BY 1, 2",
            (ANALYST_ROLE,),
        ).fetchall()
    return [f"{table}:{privilege}" for table, privilege in found]


def test_the_analyst_role_may_select_every_contract_view_and_nothing_else_on_both(
    fresh_database: Callable[[], str],
    postgres_side: tuple[dict[str, str], dict[str, list[Any]]],
    pglite_side: dict[str, Any],
) -> None:
    expected = [f"{view}:SELECT" for view in sorted(postgres_side[0])]
    assert analyst_grants(fresh_database()) == expected
    assert pglite_side["analyst_grants"] == expected
