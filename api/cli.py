"""`dronefleet-api serve`: run the API with uvicorn; `dronefleet-api openapi PATH`: its document.

`openapi` writes the OpenAPI document as JSON without connecting to Kafka or PostgreSQL
(the app's services start in its lifespan, which building the document does not run):
the live map's TypeScript types are generated from it when the page is built
(`make install`, and the Dockerfile's `openapi` stage), so the page's status unions come
from the contracts and a status the page does not handle fails `tsc`.
"""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI

from api.main import create_app
from api.settings import ApiSettings
from runtime import logging_config


def server_config(app: FastAPI, settings: ApiSettings, **overrides: Any) -> uvicorn.Config:
    """How uvicorn serves the app: small incoming frames, keepalive pings, no compression.

    Tests and benchmarks serve the app in-process with this same configuration.
    """
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        # Forwarded headers only from the configured proxies (uvicorn trusts 127.0.0.1 by
        # default): a client must not pick the address the rate limit counts it under.
        "proxy_headers": bool(settings.trusted_proxies),
        "forwarded_allow_ips": ",".join(settings.trusted_proxies) or None,
        "ws_max_size": 4096,
        "ws_ping_interval": 20.0,
        "ws_ping_timeout": 20.0,
        "ws_per_message_deflate": False,
        # A dropped client that reads nothing keeps its connection until TCP gives up;
        # shutting down does not wait for such connections for ever.
        "timeout_graceful_shutdown": 10.0,
        "access_log": True,
        "log_level": settings.log_level,
    } | overrides
    # JSON or text (`runtime.logs`), at the level asked (a test's "warning" included).
    level = {"log_level": options["log_level"]}
    options.setdefault("log_config", logging_config(settings.model_copy(update=level), "api"))
    return uvicorn.Config(app, **options)


def listening_socket(settings: ApiSettings) -> socket.socket:
    """The server's socket, with the send buffer every accepted connection inherits."""
    sock = socket.socket(socket.AF_INET6 if ":" in settings.host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if settings.socket_send_buffer_bytes:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, settings.socket_send_buffer_bytes)
    sock.bind((settings.host, settings.port))
    return sock


PLACEHOLDER_SECRET = "x" * 32
"""The document does not depend on the token secret; the settings only require one."""


def openapi_document() -> str:
    """The app's OpenAPI document as stable, indented JSON."""
    app = create_app(ApiSettings(token_secret=PLACEHOLDER_SECRET))
    return json.dumps(app.openapi(), indent=2, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> None:
    """Serve the app built from the environment's settings, or write its OpenAPI document."""
    match sys.argv[1:] if argv is None else argv:
        case ["serve"]:
            settings = ApiSettings()  # secrets come from the environment
            sock = listening_socket(settings)
            uvicorn.Server(server_config(create_app(settings), settings)).run(sockets=[sock])
        case ["openapi", path]:
            Path(path).write_text(openapi_document(), encoding="utf-8")
        case _:
            print("usage: dronefleet-api serve | dronefleet-api openapi PATH", file=sys.stderr)
            raise SystemExit(2)


if __name__ == "__main__":
    main()
