"""`python -m notifier [run | migrate]`: the notifier's process."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys

from notifier.schema import ensure_schema
from notifier.service import Notifier, bootstrap
from notifier.settings import NotifierSettings
from runtime import Probes, configure_logging, serve_probes


def main(argv: list[str] | None = None) -> None:
    """`run` (the default): consume and post until SIGTERM; `migrate`: create the schema."""
    args = sys.argv[1:] if argv is None else argv
    settings = NotifierSettings()
    configure_logging(settings, "notifier")
    if args[:1] == ["migrate"]:
        ensure_schema(settings.database_url)
        print("notifier schema ready")
        return
    if args[:1] not in ([], ["run"]):
        raise SystemExit("usage: python -m notifier [run | migrate]")
    asyncio.run(_run(bootstrap(settings)))


async def _run(notifier: Notifier) -> None:
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, notifier.stop)
    probes = Probes.of_process(notifier.metrics.registry)
    serving = None
    if notifier.settings.metrics_port is not None:
        serving = asyncio.create_task(
            serve_probes(probes, notifier.settings.metrics_host, notifier.settings.metrics_port)
        )
    try:
        await notifier.run()
    finally:
        if serving is not None:
            serving.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await serving
