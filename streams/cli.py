"""`dronefleet-streams worker | eta-report [--json]`: a worker, or the ETA error report."""

from __future__ import annotations

import sys

from streams.settings import StreamsSettings


def main(argv: list[str] | None = None) -> None:
    """Start a Faust worker, or print the ETA accuracy report."""
    args = sys.argv[1:] if argv is None else argv
    settings = StreamsSettings()
    if args[:1] == ["worker"]:
        from faust.worker import Worker

        from streams.app import bootstrap

        Worker(bootstrap(settings), loglevel=settings.log_level).execute_from_commandline()
        return
    if args[:1] == ["eta-report"]:
        from streams.report import run_report

        print(run_report(settings, as_json="--json" in args))
        return
    print("usage: dronefleet-streams worker | eta-report [--json]", file=sys.stderr)
    raise SystemExit(2)


if __name__ == "__main__":
    main()
