"""The platform's processes, as the demo and the end-to-end tests start them.

Each service runs as its own process with its own environment (`DRONEFLEET_<SERVICE>_*`
settings), exactly as `compose.yaml` runs one container per service.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from devstack.errors import ServiceStartError
from devstack.processes import tail
from devstack.prometheus import PrometheusNode
from devstack.settings import StackSettings

KAFKA_SERVICES = ("STREAMS", "PROJECTIONS", "API", "SIMULATOR", "DASHBOARD", "NOTIFIER")
"""The services whose settings inherit `kafkaio.settings.KafkaSettings`, by env name."""


@dataclass(frozen=True, slots=True)
class PlatformConfig:
    """What the services share: where the stack is, the topic prefix, secrets, ports.

    Businesses are not configured: they register through the API with the operators'
    key (`register_business`), as in production.
    """

    stack: StackSettings
    database: str
    topic_prefix: str = ""
    partitions: int = 4
    """Partitions of the keyed topics, as they were created (`stack.up` creates 4, the
    contracts' default): every service is told the same, so none assumes its own."""
    api_port: int = 8000
    token_secret: str = field(default_factory=lambda: secrets.token_hex(32))
    operator_key: str = field(default_factory=lambda: secrets.token_hex(32))
    webhook_signing_key: str = field(default_factory=lambda: secrets.token_hex(32))
    """Derives the webhook endpoints' secrets: the API and the notifier share it."""
    dashboard_port: int | None = None
    """The operators' dashboard's port; None: no dashboard (tests that do not look at it)."""
    streams_metrics_port: int | None = None
    """The stream worker's Prometheus endpoint; None: not served (harnesses with several
    workers on one host, which would collide on one port)."""
    projections_metrics_port: int | None = None
    """The projection sink's probes and metrics; None: not served."""
    simulator_metrics_port: int | None = None
    """The simulator's probes and metrics; None: not served."""
    notifier_metrics_port: int | None = None
    """The notifier's probes and metrics; None: not served (or no notifier started)."""
    lag_exporter_port: int | None = None
    """Where `dronefleet-streams lag --serve` serves the groups' lag; None: not started."""
    log_format: str | None = None
    """`json` or `text` for every service (`runtime.logs`); None: each one's default."""

    @property
    def namespace(self) -> str:
        """The platform's name in Prometheus's `namespace` label: its prefix, or `main`."""
        return self.topic_prefix.rstrip("-") or "main"

    def metrics_port(self, service: str) -> int | None:
        """The port a service (by its `start_service` name) serves `/metrics` on, if any."""
        return {
            "api": self.api_port,
            "streams": self.streams_metrics_port,
            "projections": self.projections_metrics_port,
            "simulator": self.simulator_metrics_port,
            "notifier": self.notifier_metrics_port,
            "lag-exporter": self.lag_exporter_port,
        }.get(service)

    def lag_groups(self) -> list[str]:
        """The consumer groups whose lag the alerts watch: the worker's three and the sink's.

        Their names as the services make them (`StreamsSettings.groups`, the sink's
        `projections.source`), checked against them in tests/unit/devstack.
        """
        app = f"{self.topic_prefix}dronefleet-streams"
        return [app, f"{app}-gate", f"{app}-deliveries", f"{self.topic_prefix}projections-core"]

    def _kafka_credentials(self) -> dict[str, str]:
        """Each service's own user and password on a broker with SASL (none without)."""
        if not self.stack.kafka_sasl:
            return {}
        env: dict[str, str] = {}
        for service in KAFKA_SERVICES:
            user = service.lower()
            env[f"DRONEFLEET_{service}_KAFKA_USERNAME"] = user
            env[f"DRONEFLEET_{service}_KAFKA_PASSWORD"] = self.stack.kafka_password(
                user
            ).get_secret_value()
        return env

    @property
    def api_url(self) -> str:
        """The API's base URL."""
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def dashboard_url(self) -> str | None:
        """The dashboard's URL, if it runs."""
        return None if self.dashboard_port is None else f"http://127.0.0.1:{self.dashboard_port}"

    def environment(self) -> dict[str, str]:
        """Environment variables configuring every service for this platform."""
        database_url = self.stack.dsn_for(self.database)
        kafka = {
            "KAFKA_BOOTSTRAP": self.stack.kafka_bootstrap,
            "TOPIC_PREFIX": self.topic_prefix,
            "PARTITIONS": str(self.partitions),
        }
        return {
            **{
                f"DRONEFLEET_{service}_{name}": value
                for service in KAFKA_SERVICES
                for name, value in kafka.items()
            },
            **self._kafka_credentials(),
            "DRONEFLEET_STREAMS_DATA_DIR": str(
                self.stack.home / f"streams-{self.topic_prefix or 'main'}"
            ),
            **(
                {"DRONEFLEET_STREAMS_METRICS_PORT": str(self.streams_metrics_port)}
                if self.streams_metrics_port is not None
                else {}
            ),
            **{
                f"DRONEFLEET_{service}_METRICS_PORT": str(port)
                for service, port in (
                    ("PROJECTIONS", self.projections_metrics_port),
                    ("SIMULATOR", self.simulator_metrics_port),
                    ("NOTIFIER", self.notifier_metrics_port),
                )
                if port is not None
            },
            **{
                f"DRONEFLEET_{service}_LOG_FORMAT": self.log_format
                for service in ("STREAMS", "PROJECTIONS", "API", "SIMULATOR", "NOTIFIER")
                if self.log_format is not None
            },
            "DRONEFLEET_PROJECTIONS_DATABASE_URL": database_url,
            "DRONEFLEET_API_DATABASE_URL": database_url,
            "DRONEFLEET_API_TOKEN_SECRET": self.token_secret,
            "DRONEFLEET_API_OPERATOR_KEY": self.operator_key,
            "DRONEFLEET_API_WEBHOOK_SIGNING_KEY": self.webhook_signing_key,
            "DRONEFLEET_NOTIFIER_SIGNING_KEY": self.webhook_signing_key,
            "DRONEFLEET_NOTIFIER_DATABASE_URL": database_url,
            "DRONEFLEET_API_PORT": str(self.api_port),
            "DRONEFLEET_API_PUBLIC_URL": self.api_url,
            "DRONEFLEET_API_ALLOWED_ORIGINS": (
                f'["{self.api_url}", "http://localhost:{self.api_port}"]'
            ),
            "DRONEFLEET_SIMULATOR_API_URL": self.api_url,
            "DRONEFLEET_DASHBOARD_DATABASE_URL": database_url,
            "DRONEFLEET_DASHBOARD_PORT": str(self.dashboard_port or 8501),
        }


@dataclass
class RunningService:
    """A started service process and its log."""

    name: str
    process: subprocess.Popen[bytes]
    log_file: Path
    scrape_job: Path | None = None
    """Its scrape configuration in the stack's Prometheus (`devstack.prometheus`), if any."""
    prometheus: PrometheusNode | None = None

    def alive(self) -> bool:
        """True while the process runs."""
        return self.process.poll() is None

    def stop(self, grace_s: float = 15.0) -> None:
        """SIGTERM, then SIGKILL after the grace period; Prometheus stops scraping it."""
        if self.prometheus is not None and self.scrape_job is not None:
            self.prometheus.unregister(self.scrape_job)
            self.scrape_job = None
        if not self.alive():
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_service(
    name: str,
    argv: list[str],
    config: PlatformConfig,
    logs: Path,
    extra_env: dict[str, str] | None = None,
) -> RunningService:
    """Start `python -m <argv>` with the platform's environment, output to logs/<name>.log."""
    logs.mkdir(parents=True, exist_ok=True)
    log_file = logs / f"{name}.log"
    env = {**os.environ, **config.environment(), **(extra_env or {}), "PYTHONUNBUFFERED": "1"}
    with log_file.open("ab") as log:
        # A session of its own: a Ctrl-C in the terminal reaches the launcher only,
        # which then stops every service in order instead of all dying at once.
        process = subprocess.Popen(
            [sys.executable, "-m", *argv],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    service = RunningService(name, process, log_file)
    port = config.metrics_port(name)
    if port is not None and config.stack.prometheus:
        service.prometheus = PrometheusNode(config.stack)
        service.scrape_job = service.prometheus.register(
            f"{config.namespace}-{name}",
            f"127.0.0.1:{port}",
            {"namespace": config.namespace, "service": name},
            bearer=config.operator_key if name == "api" else None,
            pid=process.pid,
        )
    return service


def wait_until_ready(api_url: str, services: list[RunningService], timeout_s: float = 90.0) -> None:
    """Poll the API's readiness endpoint; fail fast when a service dies meanwhile."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for service in services:
            if not service.alive():
                raise ServiceStartError(
                    f"{service.name} exited with {service.process.returncode}; "
                    f"last lines of {service.log_file}:\n{tail(service.log_file)}"
                )
        try:
            if httpx.get(f"{api_url}/readyz", timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise ServiceStartError(f"the API at {api_url} was not ready within {timeout_s:.0f}s")


def register_business(
    config: PlatformConfig, name: str, contact: str = "ops@localhost", timeout_s: float = 60.0
) -> str:
    """Register a business through the API with the operators' key; return its API key.

    Returns once the key works (a 202 `pending` registration is waited for), so the
    caller can use it at once.
    """
    response = httpx.post(
        f"{config.api_url}/v1/businesses",
        headers={"X-Operator-Key": config.operator_key},
        json={"name": name, "contact": contact},
        timeout=30.0,
    )
    if response.status_code not in (201, 202):
        raise ServiceStartError(
            f"registering {name!r} failed: {response.status_code} {response.text}"
        )
    key: str = response.json()["api_key"]
    deadline = time.monotonic() + timeout_s
    while response.status_code != 201 and time.monotonic() < deadline:  # 202: pending
        time.sleep(0.2)
        me = httpx.get(f"{config.api_url}/v1/businesses/me", headers={"X-API-Key": key})
        if me.status_code == 200:
            return key
    if response.status_code != 201:
        raise ServiceStartError(f"the key of {name!r} did not start working in {timeout_s:.0f}s")
    return key


def publish_airspace(
    config: PlatformConfig,
    logs: Path,
    simulator_args: list[str] | None = None,
    extra_env: dict[str, str] | None = None,
) -> None:
    """Publish the scenario's airspace before the services that read it start.

    The scenario is the simulator's (`dronefleet-simulator publish-airspace`, the one of
    `--scenario` in `simulator_args` if given); publishing is idempotent.
    """
    args = simulator_args or []
    at = args.index("--scenario") if "--scenario" in args else len(args)
    scenario = args[at : at + 2]
    logs.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **config.environment(), **(extra_env or {}), "PYTHONUNBUFFERED": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "simulator", "publish-airspace", *scenario],
        env=env,
        capture_output=True,
        timeout=120,
        check=False,
    )
    with (logs / "airspace.log").open("ab") as log:
        log.write(done.stdout + done.stderr)
    if done.returncode != 0:
        raise ServiceStartError(
            f"publishing the airspace failed ({done.returncode}):\n{done.stderr.decode()[-2000:]}"
        )


def start_platform(
    config: PlatformConfig,
    logs: Path,
    simulator_args: list[str],
    extra_env: dict[str, str] | None = None,
) -> list[RunningService]:
    """Publish the airspace, start the sink, a stream worker and the API, then the fleet.

    With `config.lag_exporter_port`, the groups' lag exporter too; every service with a
    metrics port is scraped by the stack's Prometheus while it runs.

        The simulator's demand places its orders as a business registered here.

        On any failure the processes already started are stopped before the error propagates.
    """
    services: list[RunningService] = []
    try:
        publish_airspace(config, logs, simulator_args, extra_env)
        for name, argv in (
            ("projections", ["projections", "sink"]),
            ("streams", ["streams", "worker"]),
            ("api", ["api", "serve"]),
        ):
            services.append(start_service(name, argv, config, logs, extra_env))
        if config.lag_exporter_port is not None:
            groups = [arg for group in config.lag_groups() for arg in ("--group", group)]
            argv = ["streams", "lag", *groups, "--serve", str(config.lag_exporter_port)]
            services.append(start_service("lag-exporter", argv, config, logs, extra_env))
        wait_until_ready(config.api_url, services)
        demand_key = register_business(config, "simulated demand")
        simulator_env = {**(extra_env or {}), "DRONEFLEET_SIMULATOR_API_KEY": demand_key}
        services.append(
            start_service(
                "simulator", ["simulator", "run", *simulator_args], config, logs, simulator_env
            )
        )
        if config.dashboard_port is not None:  # the operators' dashboard, last
            services.append(start_service("dashboard", ["dashboard"], config, logs, extra_env))
    except BaseException:
        stop_all(services)
        raise
    return services


def stop_all(services: list[RunningService]) -> None:
    """Stop services in the reverse order of their start."""
    for service in reversed(services):
        service.stop()
