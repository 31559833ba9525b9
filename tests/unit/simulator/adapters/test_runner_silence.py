"""The runner's dead radios: which drones fall silent, when, and that nothing of theirs is sent."""

from __future__ import annotations

import asyncio

from kafkaio import WireRecord
from simulator.adapters.runner import SimulatorRunner
from simulator.flight.engine import FleetEngine
from simulator.settings import SimulatorSettings
from tests.support.simulator_runner import DEPOT, FAST_SPEC


def runner(**settings: float) -> SimulatorRunner:
    engine = FleetEngine.at_depots(10, (DEPOT,), FAST_SPEC, seed=1, id_prefix="s-")
    config = SimulatorSettings(kafka_bootstrap="localhost:1", drones=10, **settings)
    return SimulatorRunner(config, engine, demand=None)


def test_a_share_of_the_drones_falls_silent_when_due() -> None:
    silencing = runner(silence_at_s=5.0, silence_share=20.0)
    silencing._silence_if_due(4.9)
    assert silencing.silenced == set()
    silencing._silence_if_due(5.0)
    assert silencing.silenced == {"s-00000", "s-00001"}
    quiet = runner()
    quiet._silence_if_due(1_000.0)
    assert quiet.silenced == set(), "no silence unless asked"


def test_nothing_a_silent_drone_reports_is_sent() -> None:
    silencing = runner()
    silencing.silenced = {"s-00000"}
    sent: list[WireRecord] = []

    async def produce(records: list[WireRecord]) -> None:
        sent.extend(records)

    silencing._produce = produce  # type: ignore[method-assign]
    reports = silencing.engine.step(silencing.now(), 1.0)
    asyncio.run(silencing._send(reports))
    keys = {record.key for record in sent}
    assert b"s-00000" not in keys and b"s-00001" in keys
