"""A PostgreSQL server from Debian's packages, with its cluster in `.stack/postgres`.

The cluster listens on 127.0.0.1 only, on its own port, with `trust` authentication:
it is a development and test server, never exposed. PostgreSQL refuses to run as root,
so when the stack is started by root the server runs as the `postgres` system user
that Debian's package creates.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import time
from pathlib import Path

import psycopg
from psycopg import sql

from devstack.errors import MissingToolError, ServiceStartError
from devstack.processes import port_open, tail
from devstack.settings import StackSettings

INSTALL_HINT = "sudo apt-get install -y postgresql"


def find_bindir() -> Path | None:
    """The bin folder of the newest PostgreSQL (15+) installed by Debian's packages."""
    candidates = []
    for pg_ctl in Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"):
        try:
            candidates.append((int(pg_ctl.parent.parent.name), pg_ctl.parent))
        except ValueError:
            continue
    candidates = [c for c in candidates if c[0] >= 15]
    return max(candidates)[1] if candidates else None


def ensure_installed() -> Path:
    """Find PostgreSQL; install Debian's package when running as root, else explain."""
    bindir = find_bindir()
    if bindir is not None:
        return bindir
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise MissingToolError("PostgreSQL 15+", INSTALL_HINT)
    print("PostgreSQL is missing: installing Debian's postgresql package...")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-q"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-q", "postgresql"], check=True, env=env)
    bindir = find_bindir()
    if bindir is None:
        raise MissingToolError("PostgreSQL 15+", INSTALL_HINT)
    return bindir


def _cluster_home(stack_home: Path) -> Path:
    """Where the cluster lives: `<stack home>/postgres`, when its owner can reach it.

    As root the server runs as `postgres`, which cannot enter a checkout under a
    private folder such as /root; the cluster then lives under /var/lib/dronefleet,
    in a folder named after the checkout so that two checkouts never share one.
    """
    preferred = stack_home / "postgres"
    if os.geteuid() != 0 or _postgres_can_reach(stack_home):
        return preferred
    digest = hashlib.sha256(str(stack_home).encode()).hexdigest()[:12]
    return Path("/var/lib/dronefleet") / digest / "postgres"


def _postgres_can_reach(folder: Path) -> bool:
    """True when every parent of `folder` lets other users through (o+x)."""
    for parent in [folder, *folder.parents]:
        if parent.exists() and not parent.stat().st_mode & 0o001:
            return False
    return True


class PostgresNode:
    """The local PostgreSQL server: initialize, start, check and stop it."""

    def __init__(self, settings: StackSettings) -> None:
        self.settings = settings
        self.home = _cluster_home(settings.home)
        self.data_dir = self.home / "data"
        self.socket_dir = self.home / "run"
        self.log_file = self.home / "server.log"

    def start(self) -> bool:
        """Start the server unless it runs; True when this call started it."""
        if self.running():
            return False
        if port_open(self.settings.postgres_port):
            raise ServiceStartError(
                f"port {self.settings.postgres_port} is taken by another program; "
                "set DRONEFLEET_STACK_POSTGRES_PORT to a free port"
            )
        bindir = ensure_installed()
        self._initdb(bindir)
        options = (
            f"-p {self.settings.postgres_port} -c listen_addresses=127.0.0.1 "
            f"-c unix_socket_directories={self.socket_dir} -c max_connections=200 "
            "-c shared_buffers=256MB"
        )
        result = self._run_as_owner(
            [
                str(bindir / "pg_ctl"),
                "-D",
                str(self.data_dir),
                "-l",
                str(self.log_file),
                "-o",
                options,
                "-w",
                "-t",
                str(int(self.settings.start_timeout_s)),
                "start",
            ]
        )
        if result.returncode != 0:
            raise ServiceStartError(
                f"PostgreSQL did not start: {result.stderr.strip()}\n{tail(self.log_file)}"
            )
        return True

    def running(self) -> bool:
        """True when the cluster's postmaster runs (per `pg_ctl status`)."""
        bindir = find_bindir()
        if bindir is None or not (self.data_dir / "PG_VERSION").exists():
            return False
        result = self._run_as_owner([str(bindir / "pg_ctl"), "-D", str(self.data_dir), "status"])
        return result.returncode == 0

    def wait_healthy(self, timeout_s: float) -> None:
        """Block until the server accepts queries, then make sure the database exists."""
        deadline = time.monotonic() + timeout_s
        last_error = ""
        while time.monotonic() < deadline:
            try:
                self.ensure_database(self.settings.postgres_db)
                return
            except psycopg.OperationalError as error:
                last_error = str(error)
                time.sleep(0.3)
        raise ServiceStartError(
            f"PostgreSQL did not accept connections in {timeout_s:.0f}s: {last_error}\n"
            + tail(self.log_file)
        )

    def healthy(self) -> bool:
        """True when a query on the server succeeds."""
        try:
            with psycopg.connect(self.settings.dsn_for("postgres"), connect_timeout=2) as conn:
                conn.execute("SELECT 1")
        except psycopg.OperationalError:
            return False
        return True

    def ensure_database(self, name: str) -> None:
        """Create database `name` unless it exists."""
        with psycopg.connect(
            self.settings.dsn_for("postgres"), autocommit=True, connect_timeout=2
        ) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
            ).fetchone()
            if exists is None:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))

    def drop_database(self, name: str) -> None:
        """Drop database `name` if it exists (test clean-up)."""
        with psycopg.connect(self.settings.dsn_for("postgres"), autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    def stop(self) -> bool:
        """Stop the server (fast shutdown) if it runs; True when it was running."""
        if not self.running():
            return False
        bindir = find_bindir()
        assert bindir is not None  # running() found it
        self._run_as_owner(
            [str(bindir / "pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "stop"]
        )
        return True

    def _initdb(self, bindir: Path) -> None:
        if (self.data_dir / "PG_VERSION").exists():
            return
        self.home.mkdir(parents=True, exist_ok=True)
        self.home.parent.chmod(0o755)
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.home, "postgres", "postgres")
            shutil.chown(self.socket_dir, "postgres", "postgres")
        result = self._run_as_owner(
            [
                str(bindir / "initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                self.settings.postgres_user,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
            ]
        )
        if result.returncode != 0:
            raise ServiceStartError(f"initdb failed:\n{result.stdout}\n{result.stderr}")

    def _run_as_owner(self, argv: list[str]) -> subprocess.CompletedProcess[str]:
        """Run a PostgreSQL tool as the cluster's owner (`postgres` when we are root)."""
        if os.geteuid() == 0:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        return subprocess.run(argv, capture_output=True, text=True, check=False)
