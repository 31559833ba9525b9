"""`dronefleet-api serve`: run the API with uvicorn."""

from __future__ import annotations

import socket
import sys
from typing import Any

import uvicorn
from fastapi import FastAPI

from api.main import create_app
from api.settings import ApiSettings


def server_config(app: FastAPI, settings: ApiSettings, **overrides: Any) -> uvicorn.Config:
    """How uvicorn serves the app: small incoming frames, keepalive pings, no compression.

    Tests and benchmarks serve the app in-process with this same configuration.
    """
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "ws_max_size": 4096,
        "ws_ping_interval": 20.0,
        "ws_ping_timeout": 20.0,
        "ws_per_message_deflate": False,
        # A dropped client that reads nothing keeps its connection until TCP gives up;
        # shutting down does not wait for such connections for ever.
        "timeout_graceful_shutdown": 10.0,
        "access_log": True,
        "log_level": "info",
    }
    return uvicorn.Config(app, **(options | overrides))


def listening_socket(settings: ApiSettings) -> socket.socket:
    """The server's socket, with the send buffer every accepted connection inherits."""
    sock = socket.socket(socket.AF_INET6 if ":" in settings.host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if settings.socket_send_buffer_bytes:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, settings.socket_send_buffer_bytes)
    sock.bind((settings.host, settings.port))
    return sock


def main(argv: list[str] | None = None) -> None:
    """Serve the app built from the environment's settings."""
    args = sys.argv[1:] if argv is None else argv
    if args[:1] != ["serve"]:
        print("usage: dronefleet-api serve", file=sys.stderr)
        raise SystemExit(2)
    settings = ApiSettings()  # secrets come from the environment
    sock = listening_socket(settings)
    uvicorn.Server(server_config(create_app(settings), settings)).run(sockets=[sock])


if __name__ == "__main__":
    main()
