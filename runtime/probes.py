"""A service's health and metrics endpoint: `/healthz`, `/readyz` and `/metrics` on one port.

Every service but the API (which serves the same three paths itself) runs this, so the
Kubernetes probes, Compose's healthchecks and Prometheus ask each service the same way:

- live (`/healthz`): the process's event loop still turns. A `Heartbeat` is beaten by a
  task on the loop; when it has not been beaten for `stalled_after_s`, the loop is stuck
  (a blocking call, a deadlock) and restarting the process is the cure. A thread serves
  the endpoint, so it answers even then: that is the point.
- ready (`/readyz`): the service does its job now; what that means is the service's
  (`ready` returns None, or why not: the sink has no database, a stage has not joined its
  group). Not ready is no reason to restart, only to wait.
- metrics (`/metrics`): the service's own registry, in Prometheus's text format.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from pydantic_settings import BaseSettings

from runtime.gc_pauses import GcPauses

Readiness = Callable[[], str | None]
"""None when the service is ready, else why it is not (shown in `/readyz`'s answer)."""


class ProbeSettings(BaseSettings):
    """Where a service serves its probes and metrics (fields its settings inherit)."""

    metrics_port: int | None = None
    """Serve `/healthz`, `/readyz` and `/metrics` on this port; None: not served."""
    metrics_host: str = "127.0.0.1"
    """The address to listen on (0.0.0.0 in a container, for the kubelet and Prometheus)."""


class Heartbeat:
    """When the event loop last turned (beaten by `beat_forever`)."""

    def __init__(self) -> None:
        self._last = time.monotonic()

    def beat(self) -> None:
        """The loop turned now."""
        self._last = time.monotonic()

    def age_s(self) -> float:
        """Seconds since the last beat."""
        return time.monotonic() - self._last


async def beat_forever(heartbeat: Heartbeat, every_s: float = 1.0) -> None:
    """Beat `heartbeat` every `every_s` from the event loop, until cancelled."""
    while True:
        heartbeat.beat()
        await asyncio.sleep(every_s)


def always_ready() -> str | None:
    """The readiness of a service that is ready as soon as it serves."""
    return None


@dataclass
class Probes:
    """What the endpoint answers from."""

    registry: CollectorRegistry
    ready: Readiness = always_ready
    heartbeat: Heartbeat = field(default_factory=Heartbeat)
    stalled_after_s: float = 30.0
    gc_pauses: GcPauses | None = None
    """The process's collector pauses, timed while `serve_probes` runs (None: not timed)."""

    @classmethod
    def of_process(cls, registry: CollectorRegistry, ready: Readiness = always_ready) -> Probes:
        """Probes whose registry also times the process's collector pauses."""
        return cls(registry, ready=ready, gc_pauses=GcPauses(registry))

    def live(self) -> str | None:
        """None while the loop turns, else why the process is not alive."""
        age = self.heartbeat.age_s()
        if age > self.stalled_after_s:
            return f"the event loop has not turned for {age:.0f} s"
        return None


async def serve_probes(probes: Probes, host: str, port: int) -> None:
    """Serve `probes` on `port`, beat their heartbeat and time the collector, until cancelled."""
    server = ProbeServer(probes, host, port)
    if probes.gc_pauses is not None:
        probes.gc_pauses.install()
    try:
        await beat_forever(probes.heartbeat)
    finally:
        if probes.gc_pauses is not None:
            probes.gc_pauses.uninstall()
        server.close()


class ProbeServer:
    """The endpoint, served from a daemon thread until `close()`."""

    def __init__(self, probes: Probes, host: str, port: int) -> None:
        handler = type("Handler", (_ProbeHandler,), {"probes": probes})
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="probes", daemon=True
        )
        self._thread.start()

    @property
    def port(self) -> int:
        """The port it listens on (the one asked for, or a free one for 0)."""
        return int(self._server.server_address[1])

    def close(self) -> None:
        """Stop serving and free the port."""
        self._server.shutdown()
        self._server.server_close()


class _ProbeHandler(BaseHTTPRequestHandler):
    probes: Probes

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            self._answer(200, generate_latest(self.probes.registry), CONTENT_TYPE_LATEST)
        elif path == "/healthz":
            self._status(self.probes.live(), "ok")
        elif path == "/readyz":
            self._status(self.probes.live() or self.probes.ready(), "ready")
        else:
            self._answer(404, b'{"detail": "not found"}\n', "application/json")

    def _status(self, problem: str | None, ok: str) -> None:
        body = {"status": ok} if problem is None else {"status": "unavailable", "detail": problem}
        code = 200 if problem is None else 503
        self._answer(code, json.dumps(body).encode() + b"\n", "application/json")

    def _answer(self, code: int, body: bytes, content_type: str) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Silent: a scrape every few seconds is no news for the log."""
