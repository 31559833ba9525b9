"""`dronefleet-streams worker`: run one stream-processing worker."""

from __future__ import annotations

import sys

from streams.app import bootstrap
from streams.settings import StreamsSettings


def main(argv: list[str] | None = None) -> None:
    """Start a Faust worker for the app built from the environment's settings."""
    args = sys.argv[1:] if argv is None else argv
    if args[:1] != ["worker"]:
        print("usage: dronefleet-streams worker", file=sys.stderr)
        raise SystemExit(2)
    settings = StreamsSettings()
    app = bootstrap(settings)
    from faust.worker import Worker

    worker = Worker(app, loglevel=settings.log_level)
    worker.execute_from_commandline()


if __name__ == "__main__":
    main()
