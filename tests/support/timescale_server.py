"""A real TimescaleDB for tests: PGlite's WASM build behind pglite-socket, under Node.

`projections/conformance/serve.mjs` serves it on a free local port; the platform's own
Python code (migrate, the sink's insert writer) talks to it over the PostgreSQL
protocol. What that server needs from its clients (docs/views.md, "TimescaleDB"): no
SSL, a password (any), nothing prepared (`projections.insert_writer.connect`) and one
connection at a time, so every helper here opens one, uses it and closes it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, TypeVar

import psycopg

from projections.insert_writer import Conn, connect

T = TypeVar("T")

CONFORMANCE = Path(__file__).resolve().parents[2] / "projections" / "conformance"
SOCKET_PACKAGE = CONFORMANCE / "node_modules" / "@electric-sql" / "pglite-socket" / "package.json"


def free_port() -> int:
    """A port nobody listens on now (the server binds it a moment later)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def timescale_server(timeout_s: float = 60.0, log: IO[str] | None = None) -> Iterator[str]:
    """Start the server, yield its URL, stop it. Fails (never skips) without Node.

    `log`: where the server's output goes (its stderr, and its stdout after the
    `listening` line), for a caller that runs it longer than a test does
    (`benchmarks/history_bench_timescale.py`): unread pipes would fill and stall it.
    """
    node = shutil.which("node")
    assert node is not None, "node is required for the TimescaleDB tests"
    assert SOCKET_PACKAGE.exists(), f"run `npm ci` in {CONFORMANCE} first"
    port = free_port()
    process = subprocess.Popen(
        [node, str(CONFORMANCE / "serve.mjs"), "--port", str(port)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE if log is None else log,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.strip() == f"listening {port}", (line, process.stderr and process.stderr.read())
        if log is not None:
            threading.Thread(target=_drain, args=(process.stdout, log), daemon=True).start()
        url = f"postgresql://postgres:postgres@127.0.0.1:{port}/postgres?sslmode=disable"
        with connection(url, timeout_s) as conn:
            conn.execute("SELECT 1")
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _drain(source: IO[str], sink: IO[str]) -> None:
    """Copy the server's stdout to `sink` until it closes."""
    for line in source:
        sink.write(line)
        sink.flush()


def connection(url: str, timeout_s: float = 15.0) -> Conn:
    """A connection to the one-connection server, once it has let the previous one go.

    The server frees its one slot when it sees the last client's socket close, a moment
    after that client is done: a connection made in that moment is refused (closed at
    once), so this tries again for up to `timeout_s`.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return connect(url)
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def retried(call: Callable[[], T], timeout_s: float = 15.0) -> T:
    """`call()` (which connects by itself, e.g. `migrate`), again while the slot is taken."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return call()
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def contract_views(conn: Conn) -> list[str]:
    """Every `*_view` of the schema."""
    return [
        str(row[0])
        for row in conn.execute(
            "SELECT table_name FROM information_schema.views"
            " WHERE table_schema = current_schema() AND table_name LIKE '%\\_view' ORDER BY 1"
        )
    ]


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


def view_digests(conn: Conn) -> dict[str, str]:
    """Per view: `<rows>:<sha256>` of its rows as PostgreSQL's own JSON, normalized, sorted.

    The JSON is the server's (`row_to_json`, in UTC), so both servers format timestamps
    alike; numbers are normalized (`normalized`) and rows sorted here, so neither the
    servers' plan nor their last float bits count.
    """
    conn.execute("SET TimeZone = 'UTC'")
    result = {}
    for name in contract_views(conn):
        rows = [
            json.dumps(normalized(json.loads(str(row[0]))), sort_keys=True)
            for row in conn.execute(f"SELECT row_to_json(v)::text FROM {name} v")
        ]
        rows.sort()
        result[name] = f"{len(rows)}:{hashlib.sha256(chr(10).join(rows).encode()).hexdigest()}"
    return result
