"""`dronefleet-projections migrate | sink | refresh`: the schema, the sink, the roll-ups."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

from projections.migrate import migrate
from projections.rollups import refresh_rollups
from projections.settings import ProjectionsSettings
from projections.sink import Sink


def main(argv: list[str] | None = None) -> None:
    """Run `migrate`, `sink` or `refresh`.

    `migrate` applies the schema; `sink` migrates, then sinks until SIGTERM; `refresh`
    refreshes the materialized roll-ups now (after a bulk load, say).
    """
    args = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = ProjectionsSettings()
    if args[:1] == ["migrate"]:
        applied = migrate(settings.database_url)
        print(f"applied: {', '.join(applied) or 'nothing (up to date)'}")
        return
    if args[:1] == ["sink"]:
        migrate(settings.database_url)
        asyncio.run(_run_sink(settings))
        return
    if args[:1] == ["refresh"]:
        refreshed = refresh_rollups(settings.database_url)
        print(f"refreshed: {', '.join(refreshed) or 'nothing (continuous aggregates only)'}")
        return
    print("usage: dronefleet-projections migrate | sink | refresh", file=sys.stderr)
    raise SystemExit(2)


async def _run_sink(settings: ProjectionsSettings) -> None:
    sink = Sink(settings)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, sink.stop)
    await sink.run()


if __name__ == "__main__":
    main()
