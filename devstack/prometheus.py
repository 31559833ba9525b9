"""The local stack's Prometheus: built from the Go module proxy, scraping every service.

Prometheus and promtool are Go modules (`github.com/prometheus/prometheus/cmd/...`):
`go install` builds both into `.cache/go/bin` (next to the kustomize that `make lint`
builds the same way), once; Go's module and build caches make a rebuild on the same
machine take seconds (measured: 12 s warm, about 11 min cold on the loaded 2-core VM).

What it scrapes changes while it runs: every platform the demo or a test starts has its
own ports and its own operators' key. So the stack's `prometheus.yml` only names a
folder, `scrape/*.yml` (Prometheus's `scrape_config_files`), and each started service
writes its own scrape configuration there and asks Prometheus to reload
(`register`/`unregister`, called by `devstack.services`). The alert rules are the
project's one rules file, `deploy/prometheus/alerts.yml`, unit-tested with `promtool
test rules` (`make lint`) and shared with the deployments.

Every target carries `namespace` (the platform's topic prefix, `main` for the demo) and
`service` labels, the ones the alert rules group by.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from pathlib import Path

import httpx

from devstack.errors import MissingToolError, ServiceStartError
from devstack.processes import pid_alive, port_open, read_pid, start_background, stop_pid, tail
from devstack.settings import REPO_ROOT, StackSettings

PROMETHEUS_MODULE = "github.com/prometheus/prometheus"
RULES = REPO_ROOT / "deploy" / "prometheus" / "alerts.yml"
"""The alert rules, for the stack and the deployments alike."""

CONFIG = """\
# Written by `dronefleet stack up`; edits are overwritten.
global:
  scrape_interval: {scrape_interval}
  scrape_timeout: 4s
  evaluation_interval: {evaluation_interval}
rule_files:
  - {rules}
# One file per running service, written by devstack.services when it starts one.
scrape_config_files:
  - {scrape_dir}/*.yml
"""


class PrometheusNode:
    """The stack's Prometheus: build, configure, start, check, reload and stop it."""

    def __init__(self, settings: StackSettings) -> None:
        self.settings = settings
        self.home = settings.home / "prometheus"
        self.bin_dir = settings.cache / "go" / "bin"
        self.binary = self.bin_dir / "prometheus"
        self.promtool = self.bin_dir / "promtool"
        self.config_file = self.home / "prometheus.yml"
        self.scrape_dir = self.home / "scrape"
        self.data_dir = self.home / "data"
        self.log_file = self.home / "prometheus.log"
        self.pid_file = self.home / "prometheus.pid"

    @property
    def url(self) -> str:
        """Prometheus's web address (its UI, `/api/v1/...`)."""
        return f"http://127.0.0.1:{self.settings.prometheus_port}"

    def build(self) -> None:
        """`go install` Prometheus and promtool into the cache unless both are there."""
        if self.binary.exists() and self.promtool.exists():
            return
        if shutil.which("go") is None:
            raise MissingToolError("Go 1.22+", "apt-get install -y golang (or go.dev's toolchain)")
        version = self.settings.prometheus_version
        print(f"building Prometheus {version} with Go (once; minutes on a cold cache)...")
        result = subprocess.run(
            [
                "go",
                "install",
                f"{PROMETHEUS_MODULE}/cmd/prometheus@{version}",
                f"{PROMETHEUS_MODULE}/cmd/promtool@{version}",
            ],
            env={**os.environ, "GOBIN": str(self.bin_dir), "GOFLAGS": "-mod=mod"},
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise ServiceStartError("go install of Prometheus failed:\n" + result.stderr[-3000:])

    def configure(self) -> None:
        """Write prometheus.yml (the rules and the scrape folder)."""
        self.scrape_dir.mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(
            CONFIG.format(
                scrape_interval=f"{self.settings.prometheus_scrape_interval_s:g}s",
                evaluation_interval=f"{self.settings.prometheus_scrape_interval_s:g}s",
                rules=RULES,
                scrape_dir=self.scrape_dir,
            )
        )

    def start(self) -> bool:
        """Start Prometheus unless it runs; True when this call started it.

        Another program on the port (another stack's Prometheus: a private stack of the
        fault tests beside the developer's) is not an error: this stack runs without
        one then, and says so (`status`), since nothing it serves depends on it.
        """
        if self.pid() is not None or port_open(self.settings.prometheus_port):
            return False
        self.build()
        self.configure()
        self.prune()
        start_background(
            [
                str(self.binary),
                f"--config.file={self.config_file}",
                f"--storage.tsdb.path={self.data_dir}",
                f"--storage.tsdb.retention.time={self.settings.prometheus_retention}",
                f"--web.listen-address=127.0.0.1:{self.settings.prometheus_port}",
                "--web.enable-lifecycle",  # POST /-/reload when a service comes or goes
            ],
            self.log_file,
            self.pid_file,
        )
        return True

    def pid(self) -> int | None:
        """Prometheus's pid when this stack's runs."""
        return read_pid(self.pid_file)

    def healthy(self) -> bool:
        """True when Prometheus answers that it is ready."""
        try:
            return httpx.get(f"{self.url}/-/ready", timeout=2.0).status_code == 200
        except httpx.HTTPError:
            return False

    def wait_healthy(self, timeout_s: float) -> None:
        """Block until Prometheus is ready, or raise with its log's last lines."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.pid() is None:
                raise ServiceStartError(
                    f"Prometheus exited during start-up; last lines of {self.log_file}:\n"
                    + tail(self.log_file)
                )
            if self.healthy():
                return
            time.sleep(0.5)
        raise ServiceStartError(
            f"Prometheus was not ready in {timeout_s:.0f}s; see {self.log_file}:\n"
            + tail(self.log_file)
        )

    def reload(self) -> None:
        """Ask this stack's Prometheus to read its configuration again (if it runs)."""
        if self.pid() is None:
            return
        with contextlib.suppress(httpx.HTTPError):  # it reads the folder at its next start
            httpx.post(f"{self.url}/-/reload", timeout=10.0)

    def stop(self) -> bool:
        """Stop Prometheus if this stack's runs; True when it was running."""
        pid = self.pid()
        if pid is None:
            return False
        stop_pid(pid, grace_s=30.0)
        self.pid_file.unlink(missing_ok=True)
        return True

    def register(
        self,
        name: str,
        target: str,
        labels: dict[str, str],
        bearer: str | None = None,
        pid: int | None = None,
    ) -> Path:
        """Scrape `target` (host:port, `/metrics`) as job `name`; the file that says so.

        `bearer`: a token Prometheus sends as `Authorization: Bearer` (the API's
        operators' key), kept in a file of its own beside the job, readable only here.
        `pid`: the service's process; once it is gone, the next `register` or start of
        Prometheus drops the job (`prune`), so a test run that was killed leaves no
        target down for ever.
        """
        self.scrape_dir.mkdir(parents=True, exist_ok=True)
        self.prune()
        job = self.scrape_dir / f"{name}.yml"
        auth = ""
        if bearer is not None:
            secret = self.scrape_dir / f"{name}.bearer"
            secret.touch(mode=0o600)
            secret.write_text(bearer)
            auth = f"    authorization:\n      type: Bearer\n      credentials_file: {secret}\n"
        label_lines = "".join(f"          {k}: {v!r}\n" for k, v in sorted(labels.items()))
        job.write_text(
            (f"# pid: {pid}\n" if pid is not None else "") + "scrape_configs:\n"
            f"  - job_name: {name!r}\n"
            f"{auth}"
            "    static_configs:\n"
            f"      - targets: [{target!r}]\n"
            "        labels:\n"
            f"{label_lines}"
        )
        self.reload()
        return job

    def prune(self) -> list[str]:
        """Drop the jobs whose service's process is gone; the names of those dropped."""
        dropped = []
        for job in sorted(self.scrape_dir.glob("*.yml")):
            first = job.read_text().split("\n", 1)[0]
            if first.startswith("# pid: ") and not pid_alive(int(first.removeprefix("# pid: "))):
                job.unlink(missing_ok=True)
                job.with_suffix(".bearer").unlink(missing_ok=True)
                dropped.append(job.stem)
        return dropped

    def unregister(self, job: Path) -> None:
        """Stop scraping the job `register` wrote."""
        job.unlink(missing_ok=True)
        job.with_suffix(".bearer").unlink(missing_ok=True)
        self.reload()
