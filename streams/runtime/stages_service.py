"""The batched stages as a service started next to the Faust app, not inside it.

The stages start with the worker, not after Faust's app: Faust starts its own tasks and
services (`app.task`, `app.service`) only once its consumer group has assigned partitions
and its tables are recovered, which after a crash means waiting for the broker to drop
the dead member (the session timeout, 10 s). The stages have their own consumer groups
and need none of that (measured in `make chaos`: 11 s from restart to processing when
they were started as Faust tasks). `faust.Worker(app, *services)` is Faust's public way
to run services beside an app: it starts them, in order, before the app, and stops them
with it.

The worker's metrics endpoint and the collector's freezing (`runtime.gc_freeze`) start
here too: they belong to the process, not to Faust.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from mode import Service

from runtime import GcFreezeSettings
from streams.runtime.batch_loop import BatchLoop


class StagesService(Service):
    """Runs the stages' loops (restarting after failures) until the worker stops."""

    def __init__(
        self,
        loops: Sequence[BatchLoop],
        *,
        serve_metrics: Callable[[], Coroutine[Any, Any, None]] | None = None,
        gc_freezing: GcFreezeSettings | None = None,
        followers: Sequence[Callable[[], Coroutine[Any, Any, None]]] = (),
    ) -> None:
        """The stages' loops, with what else runs beside the app.

        `serve_metrics` serves the probes and metrics until cancelled (None: no
        endpoint), on this loop, whose heartbeat it beats (`runtime.probes`); `gc_freezing`
        holds the collector's freezing periods (None: never freeze); `followers` read
        what the stages look up until cancelled (the airspace), started before them.
        """
        super().__init__()
        self.loops = tuple(loops)
        self.serve_metrics = serve_metrics
        self.gc_freezing = gc_freezing
        self.followers = tuple(followers)

    async def on_start(self) -> None:
        """Serve the metrics, then run every stage's loop and the freezing in the background."""
        if self.serve_metrics is not None:
            self.add_future(self.serve_metrics())
        for follow in self.followers:
            self.add_future(follow())
        for loop in self.loops:
            self.add_future(loop.supervise())
        freezing = self.gc_freezing.freezing() if self.gc_freezing is not None else None
        if freezing is not None:
            self.add_future(freezing)
