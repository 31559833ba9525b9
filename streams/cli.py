"""`dronefleet-streams worker | eta-report [--json] | lag [...] | reset [--local-only]`.

A stream worker, the ETA error report, a consumer group's lag (and a stuck-partition
watchdog), or the reset that makes the next worker rebuild its tables from offset 0.
"""

from __future__ import annotations

import asyncio
import sys

from runtime import configure_logging, logging_config
from streams.settings import StreamsSettings


def main(argv: list[str] | None = None) -> None:
    """Run a stream worker or one of the operator tools."""
    args = sys.argv[1:] if argv is None else argv
    settings = StreamsSettings()
    if args[:1] != ["worker"]:  # the worker hands the configuration to Faust instead
        configure_logging(settings, "streams")
    if args[:1] == ["worker"]:
        from streams.runtime.changelogs import declare_changelogs
        from streams.runtime.horizon import read_horizon
        from streams.runtime.tables import changelog_specs
        from streams.runtime.worker import bootstrap

        horizon = asyncio.run(read_horizon(settings.kafka, settings.app_group))
        asyncio.run(declare_changelogs(changelog_specs(settings), settings.kafka))
        bootstrap(settings, horizon).run(settings.log_level, logging_config(settings, "streams"))
        return
    if args[:1] == ["eta-report"]:
        from streams.ops.eta_report import run_report

        print(run_report(settings, as_json="--json" in args))
        return
    if args[:1] == ["lag"]:
        from streams.ops import lag_report

        raise SystemExit(lag_report.main(args[1:], settings))
    if args[:1] == ["reset"]:
        from streams.ops import reset

        raise SystemExit(reset.main(args[1:], settings))
    print("usage: dronefleet-streams worker | eta-report [--json] | lag | reset", file=sys.stderr)
    raise SystemExit(2)


if __name__ == "__main__":
    main()
