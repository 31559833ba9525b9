"""`dronefleet-api serve`: run the API with uvicorn."""

from __future__ import annotations

import sys

import uvicorn

from api.main import create_app
from api.settings import ApiSettings


def main(argv: list[str] | None = None) -> None:
    """Serve the app built from the environment's settings."""
    args = sys.argv[1:] if argv is None else argv
    if args[:1] != ["serve"]:
        print("usage: dronefleet-api serve", file=sys.stderr)
        raise SystemExit(2)
    settings = ApiSettings()  # secrets come from the environment
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        ws_max_size=4096,
        ws_ping_interval=20.0,
        ws_ping_timeout=20.0,
        ws_per_message_deflate=False,
        access_log=True,
        log_level="info",
    )


if __name__ == "__main__":
    main()
