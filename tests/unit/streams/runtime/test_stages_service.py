"""The batched stages run as a service of Faust's worker, started before the app.

Before the app, because Faust starts what it runs itself only after its group join and
table recovery, which the stages must not wait for (`streams.runtime.stages_service`).
"""

from __future__ import annotations

import asyncio
from typing import Any

from streams.runtime.stages_service import StagesService
from streams.runtime.worker import bootstrap
from streams.settings import StreamsSettings


def test_faust_s_worker_starts_the_stages_and_then_the_app() -> None:
    worker = bootstrap(StreamsSettings(kafka_bootstrap="localhost:1"))
    dependencies = list(worker.faust_worker("info").on_init_dependencies())
    assert dependencies == [worker.stages, worker.app]
    assert [loop.stage.name for loop in worker.stages.loops] == ["validate-telemetry", "deliveries"]


class FakeLoop:
    def __init__(self) -> None:
        self.running = asyncio.Event()

    async def supervise(self) -> None:
        self.running.set()
        await asyncio.Event().wait()  # until cancelled, like a stage's loop


def test_the_service_runs_every_loop_and_serves_the_metrics_until_stopped() -> None:
    served: list[str] = []
    loops = [FakeLoop(), FakeLoop()]

    async def serve_metrics() -> None:
        served.append("metrics")
        try:
            await asyncio.Event().wait()  # until cancelled, like the probes' server
        finally:
            served.append("stopped")

    async def scenario() -> None:
        service = StagesService(
            loops,  # type: ignore[arg-type]
            serve_metrics=serve_metrics,
            gc_freezing=None,
        )
        await service.start()
        await asyncio.wait_for(asyncio.gather(*(loop.running.wait() for loop in loops)), 5)
        await service.stop()

    asyncio.run(scenario())
    assert served == ["metrics", "stopped"]


def test_the_metrics_endpoint_is_served_only_with_a_port() -> None:
    without = bootstrap(StreamsSettings(kafka_bootstrap="localhost:1", metrics_port=None))
    assert without.stages.serve_metrics is None
    with_port = bootstrap(StreamsSettings(kafka_bootstrap="localhost:1", metrics_port=0))
    serve: Any = with_port.stages.serve_metrics
    serving = serve()
    assert asyncio.iscoroutine(serving), "served on the worker's loop, beating its heartbeat"
    serving.close()
