"""The platform's processes on a stack, with the handles to hurt them.

The same processes as `dronefleet demo` (devstack's `start_service`, one process per
service, configured by `PlatformConfig`), started one by one so that a scenario can
SIGKILL a stream worker and start it again, add a second worker, or read the pids for
CPU and memory.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from contracts import TopicSpec
from devstack.services import (
    PlatformConfig,
    RunningService,
    publish_airspace,
    register_business,
    start_service,
    wait_until_ready,
)
from devstack.settings import StackSettings
from loadtest.private_stack import free_port
from streams.settings import StreamsSettings

CORE = (("projections", ["projections", "sink"]), ("api", ["api", "serve"]))
NOTIFIER = ["notifier"]
LOCAL_WEBHOOKS = {
    "DRONEFLEET_API_WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",
    "DRONEFLEET_NOTIFIER_ALLOW_PRIVATE_TARGETS": "true",
}
"""The harness's webhook receiver is on loopback, which the API and the notifier refuse
by default."""


@dataclass
class Platform:
    """Sink, stream workers, API and simulator of one topic prefix and one database."""

    stack: StackSettings
    database: str
    topic_prefix: str
    logs: Path
    worker_env: dict[str, str] = field(default_factory=dict)
    """Extra environment of every stream worker (e.g. Faust's broker settings)."""
    config: PlatformConfig = field(init=False)
    services: dict[str, RunningService] = field(default_factory=dict)
    restarts: dict[str, int] = field(default_factory=dict)
    business_key: str = ""
    """The API key of the business the simulator and the followers order as."""
    retired: set[str] = field(default_factory=set)
    """Services killed for good on purpose: not restarted, not reported dead."""
    _replica_urls: dict[str, str] = field(default_factory=dict)
    """API processes beyond the first: name -> base URL."""
    service_env: dict[str, dict[str, str]] = field(default_factory=dict)
    """Extra environment of a service by name (the API's, the notifier's), restarts too."""

    def __post_init__(self) -> None:
        self.config = PlatformConfig(
            stack=self.stack,
            database=self.database,
            topic_prefix=self.topic_prefix,
            api_port=free_port(),
        )

    @property
    def _streams(self) -> StreamsSettings:
        """The workers' settings as they read them: the group names come from there."""
        return StreamsSettings(topic_prefix=self.topic_prefix)

    @property
    def streams_group(self) -> str:
        """The stream workers' Faust group (the dispatcher)."""
        return self._streams.app_group

    @property
    def gate_group(self) -> str:
        """The telemetry gate's consumer group (inside the stream workers)."""
        return self._streams.gate_group

    @property
    def deliveries_group(self) -> str:
        """The deliveries stage's consumer group (inside the stream workers)."""
        return self._streams.deliveries_group

    @property
    def worker_inputs(self) -> dict[str, list[TopicSpec]]:
        """The stream workers' consumer groups and the topics each consumes."""
        return self._streams.group_inputs()

    @property
    def sink_group(self) -> str:
        """The projection sink's consumer group."""
        return f"{self.topic_prefix}projections-core"

    def start(self, workers: int = 1, api_replicas: int = 1) -> None:
        """Publish the airspace, start the sink, `workers` stream workers and the API, wait.

        The airspace first: the API refuses deliveries until it knows one.
        `api_replicas`: API processes, each on its own port (`api_urls`).
        """
        try:
            publish_airspace(self.config, self.logs)
            for name, argv in CORE:
                env = self.service_env.get(name)
                self.services[name] = start_service(name, argv, self.config, self.logs, env)
            for _ in range(workers):
                self.add_worker()
            for _ in range(api_replicas - 1):
                self.add_api_replica()
            for url in self.api_urls:
                wait_until_ready(url, list(self.services.values()))
            self.business_key = register_business(self.config, f"loadtest {self.topic_prefix}")
        except BaseException:
            self.stop()
            raise

    def start_notifier(self, env: dict[str, str] | None = None) -> None:
        """Start the notifier (webhooks), allowed to post to the loopback receiver."""
        self.service_env["notifier"] = {**LOCAL_WEBHOOKS, **(env or {})}
        self.services["notifier"] = start_service(
            "notifier", NOTIFIER, self.config, self.logs, self.service_env["notifier"]
        )

    def register_webhook(self, url: str, topics: Sequence[str]) -> tuple[str, str, str]:
        """Register `url` as the business's endpoint over the API: (business, endpoint, secret).

        The API must allow loopback targets (`service_env["api"]`, `LOCAL_WEBHOOKS`).
        """
        headers = {"X-API-Key": self.business_key}
        response = httpx.post(
            f"{self.config.api_url}/v1/webhooks/endpoints",
            headers=headers,
            json={"url": url, "topics": list(topics), "description": "the chaos run's receiver"},
            timeout=30.0,
        )
        response.raise_for_status()
        me = httpx.get(f"{self.config.api_url}/v1/businesses/me", headers=headers, timeout=30.0)
        me.raise_for_status()
        created = response.json()
        return str(me.json()["business_id"]), str(created["endpoint_id"]), str(created["secret"])

    def workers(self) -> list[str]:
        """Names of the stream workers not retired, oldest first."""
        return [n for n in self.services if n.startswith("streams") and n not in self.retired]

    def add_worker(self) -> str:
        """Start one more stream worker (its own data folder); returns its name."""
        name = f"streams-{sum(n.startswith('streams') for n in self.services) + 1}"
        self.services[name] = start_service(
            name, ["streams", "worker"], self.config, self.logs, self._worker_env(name)
        )
        return name

    @property
    def api_urls(self) -> list[str]:
        """The base URL of every API process, the first one's first."""
        return [self.config.api_url, *self._replica_urls.values()]

    def add_api_replica(self) -> str:
        """Start one more API process on a port of its own; returns its name.

        A replica as a second machine would run it: the same database, token secret and
        topics, consuming the whole tracking topic itself (`api.hub`), and its own public
        URL, so that the customers who ask it are sent to its websocket.
        """
        name = f"api-{len(self._replica_urls) + 2}"
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        self._replica_urls[name] = url
        env = {
            "DRONEFLEET_API_PORT": str(port),
            "DRONEFLEET_API_PUBLIC_URL": url,
            "DRONEFLEET_API_ALLOWED_ORIGINS": f'["{url}", "http://localhost:{port}"]',
        }
        self.services[name] = start_service(name, ["api", "serve"], self.config, self.logs, env)
        return name

    def _worker_env(self, name: str) -> dict[str, str]:
        data_dir = self.stack.home / f"{name}-{self.topic_prefix or 'main'}"
        return {
            "DRONEFLEET_STREAMS_DATA_DIR": str(data_dir),
            # A restarted worker is the same slot: it takes its partitions back at once.
            "DRONEFLEET_STREAMS_INSTANCE_ID": name,
            **self.worker_env,
        }

    def kill(self, name: str, *, for_good: bool = False) -> None:
        """SIGKILL a service: no shutdown, no final commit, like a crash or the OOM killer."""
        if for_good:
            self.retired.add(name)
        service = self.services[name]
        service.process.send_signal(signal.SIGKILL)
        service.process.wait()

    def restart(self, name: str) -> None:
        """Start a service again under the same name (after a kill or a crash)."""
        env: dict[str, str] | None
        if name.startswith("streams"):
            argv, env = ["streams", "worker"], self._worker_env(name)
        else:
            argv = NOTIFIER if name == "notifier" else dict(CORE)[name]
            env = self.service_env.get(name)
        self.services[name] = start_service(name, argv, self.config, self.logs, env)
        self.restarts[name] = self.restarts.get(name, 0) + 1

    def dead(self) -> list[str]:
        """Services (other than the simulator) that are not running."""
        return [
            n
            for n, s in self.services.items()
            if n != "simulator" and n not in self.retired and not s.alive()
        ]

    def start_simulator(self, args: list[str], env: dict[str, str] | None = None) -> None:
        """Start the simulator CLI with `args` (`--json` is added for the summary)."""
        env = {**(env or {}), "DRONEFLEET_SIMULATOR_API_KEY": self.business_key}
        self.services["simulator"] = start_service(
            "simulator", ["simulator", "run", *args, "--json"], self.config, self.logs, env
        )

    def wait_simulator(self, timeout_s: float) -> dict[str, Any]:
        """Wait for the simulator to end; return its JSON summary.

        A simulator that ended without one crashed (or hung and was stopped): the run's
        counts would rest on a load that was never produced, so that is an error, never
        a quiet empty summary.
        """
        service = self.services["simulator"]
        deadline = time.monotonic() + timeout_s
        while service.alive() and time.monotonic() < deadline:
            time.sleep(0.5)
        if service.alive():
            service.stop()
        summary = simulator_summary(service.log_file)
        if not summary:
            raise SimulatorFailedError(
                f"the simulator ended without its summary (exit code "
                f"{service.process.returncode}); its log: {service.log_file}"
            )
        return summary

    def pids(self) -> dict[str, int]:
        """Pid of every running service, by name."""
        return {n: s.process.pid for n, s in self.services.items() if s.alive()}

    def stop(self) -> None:
        """Stop every service, newest first."""
        for service in reversed(list(self.services.values())):
            service.stop()


class SimulatorFailedError(RuntimeError):
    """The load generator did not finish its run: no figure of that run can be trusted."""


def simulator_summary(log_file: Path) -> dict[str, Any]:
    """The last JSON line the simulator printed (its summary), or {} when there is none."""
    try:
        lines = log_file.read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return {}
    for line in reversed(lines):
        if line.startswith("{"):
            try:
                summary: dict[str, Any] = json.loads(line)
            except json.JSONDecodeError:
                continue
            return summary
    return {}


def pid_of_kafka(stack: StackSettings) -> int | None:
    """The broker's pid, from its pid file."""
    try:
        return int((stack.home / "kafka" / "kafka.pid").read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def postmaster_pid(data_dir: Path) -> int | None:
    """PostgreSQL's postmaster pid, from its data folder."""
    try:
        pid = int((data_dir / "postmaster.pid").read_text().split()[0])
    except (FileNotFoundError, ValueError, IndexError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    return pid
