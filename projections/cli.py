"""`dronefleet-projections migrate | sink | refresh | maintain | rebuild`: the projections' CLI."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from datetime import timedelta

from projections.metrics import sink_probes
from projections.migrate import migrate
from projections.partitions import maintain
from projections.rebuild import Progress, RebuildError, rebuild
from projections.rollups import refresh_rollups
from projections.settings import ProjectionsSettings
from projections.sink import Sink
from runtime import configure_logging, serve_probes


def main(argv: list[str] | None = None) -> None:
    """Run `migrate`, `sink`, `refresh [--full]`, `maintain` or `rebuild [--projection NAME]`.

    `migrate` applies the schema; `sink` migrates, then sinks until SIGTERM; `refresh`
    refreshes the roll-ups now (`--full`: re-aggregate every minute, after writing rows
    around the sink, a bulk load say); `maintain` creates the time partitions ahead and
    drops those past the retention now (the sink does it every `maintenance_interval_s`);
    `rebuild` replays the topics from offset 0 into fresh tables and swaps them in
    (`projections.rebuild`).
    """
    args = sys.argv[1:] if argv is None else argv
    settings = ProjectionsSettings()
    configure_logging(settings, "projections")
    if args[:1] == ["migrate"]:
        applied = migrate(settings.database_url)
        print(f"applied: {', '.join(applied) or 'nothing (up to date)'}")
        return
    if args[:1] == ["sink"]:
        migrate(settings.database_url)
        asyncio.run(_run_sink(settings))
        return
    if args[:1] == ["refresh"]:
        refreshed = refresh_rollups(settings.database_url, full=args[1:] == ["--full"])
        print(f"refreshed: {', '.join(refreshed) or 'nothing (continuous aggregates only)'}")
        return
    if args[:1] == ["maintain"]:
        report = maintain(
            settings.database_url,
            retention=timedelta(hours=settings.retention_hours),
            rollup_retention=timedelta(days=settings.rollup_retention_days),
            ahead=timedelta(hours=settings.partitions_ahead_hours),
        )
        print(
            f"created: {', '.join(report.created) or 'nothing'}; dropped:"
            f" {', '.join(report.dropped) or 'nothing'}; default rows deleted:"
            f" {report.default_rows_deleted}; left for the next run (locked):"
            f" {', '.join(report.skipped) or 'nothing'}"
        )
        return
    if args[:1] == ["rebuild"]:
        _rebuild(settings, args[1:])
        return
    print(
        "usage: dronefleet-projections migrate | sink | refresh [--full] | maintain"
        " | rebuild [--projection NAME]",
        file=sys.stderr,
    )
    raise SystemExit(2)


def _rebuild(settings: ProjectionsSettings, argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="dronefleet-projections rebuild")
    parser.add_argument(
        "--projection",
        default=settings.projection,
        help="the checkpoint set to rebuild (default: DRONEFLEET_PROJECTIONS_PROJECTION)",
    )
    options = parser.parse_args(argv)
    settings = settings.model_copy(update={"projection": options.projection})
    migrate(settings.database_url)

    def show(progress: Progress) -> None:
        print(progress.line(), flush=True)

    try:
        result = asyncio.run(rebuild(settings, on_progress=show))
    except RebuildError as error:
        print(f"rebuild failed, live tables unchanged: {error}", file=sys.stderr)
        raise SystemExit(1) from error
    print(
        f"rebuilt {settings.projection}: {result.events:,} events in {result.replay_s:.1f}s"
        f" ({result.events_per_s:,.0f} events/s), {result.caught_up:,} caught up under lock;"
        f" swapped in: {', '.join(result.relations)}"
    )


async def _run_sink(settings: ProjectionsSettings) -> None:
    sink = Sink(settings)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, sink.stop)
    if settings.metrics_port is None:
        await sink.run()
        return
    probes = sink_probes(sink.stats)
    serving = asyncio.create_task(
        serve_probes(probes, settings.metrics_host, settings.metrics_port)
    )
    try:
        await sink.run()
    finally:
        serving.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await serving


if __name__ == "__main__":
    main()
