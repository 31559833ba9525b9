"""Serving the API in-process for websocket tests: the real app, uvicorn and Kafka.

The app is `api.main.create_app` served by uvicorn with the CLI's own configuration
(`api.cli.server_config`) on a socket bound to a free port, in the test's event loop, so
tests can look into the hub while real clients talk to it over TCP.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import uvicorn
from fastapi import FastAPI

from api import tokens
from api.cli import listening_socket, server_config
from api.deps import Services
from api.main import create_app
from api.settings import ApiSettings
from contracts import Topics, TrackingUpdated, utc_now
from tests.support.kafka_helpers import produce, wait_for


@dataclass
class ServedApi:
    """A running in-process API: its URLs, settings and the app (for its hub)."""

    settings: ApiSettings
    app: FastAPI
    server: uvicorn.Server
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def services(self) -> Services:
        services: Services = self.app.state.services
        return services

    def live_url(self, delivery_id: str) -> str:
        return f"ws://127.0.0.1:{self.port}/v1/deliveries/{delivery_id}/live"

    def write_buffers(self) -> list[int]:
        """Bytes waiting in each open connection's transport (uvicorn's protocols)."""
        return [
            connection.transport.get_write_buffer_size()  # type: ignore[attr-defined]
            for connection in self.server.server_state.connections
            if getattr(connection, "transport", None) is not None
        ]

    @property
    def operator_headers(self) -> dict[str, str]:
        """The operators' credential, as Prometheus sends it (for `/metrics`)."""
        key = self.settings.operator_key
        assert key is not None, "api_settings gives every served API an operator key"
        return {"Authorization": f"Bearer {key.get_secret_value()}"}

    def token(self, delivery_id: str, ttl: timedelta = timedelta(hours=1)) -> str:
        secret = self.settings.token_secret.get_secret_value()
        return tokens.issue(secret, delivery_id, utc_now(), ttl)


def api_settings(bootstrap: str, topics: Topics, database_url: str, **extra: object) -> ApiSettings:
    """Settings for an in-process API on these topics and this database."""
    options: dict[str, object] = {"operator_key": secrets.token_hex(32), **extra}
    return ApiSettings(
        kafka_bootstrap=bootstrap,
        topic_prefix=topics.prefix,
        database_url=database_url,
        token_secret=secrets.token_hex(32),
        **options,  # type: ignore[arg-type]
    )


@contextlib.asynccontextmanager
async def serving(settings: ApiSettings, probe: TrackingUpdated) -> AsyncIterator[ServedApi]:
    """Serve the app until the block ends; ready once its hub has seen `probe`.

    The hub reads the tracking topic from its end, so records produced before its
    consumer has found that end would be missed: producing a probe until the hub has
    it makes sure the test's own updates come after.
    """
    listener = listening_socket(settings.model_copy(update={"host": "127.0.0.1", "port": 0}))
    port = int(listener.getsockname()[1])
    app = create_app(settings)
    server = uvicorn.Server(
        server_config(app, settings, port=port, log_level="warning", access_log=False)
    )
    task = asyncio.create_task(server.serve(sockets=[listener]))
    served = ServedApi(settings, app, server, port)
    try:
        await wait_for(lambda: server.started or task.done(), 60, "the API to start")
        assert not task.done(), "the API stopped during start-up"
        topic = Topics.with_prefix(settings.topic_prefix).tracking.name
        for _ in range(60):
            await produce(settings.kafka_bootstrap, topic, [probe])
            with contextlib.suppress(AssertionError):
                await wait_for(
                    lambda: served.services.hub.latest(probe.delivery_id) is not None,
                    1,
                    "the probe",
                )
                break
        assert served.services.hub.latest(probe.delivery_id) is not None, "the hub reads nothing"
        yield served
    finally:
        server.should_exit = True
        await task
        listener.close()
