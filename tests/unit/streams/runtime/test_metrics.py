"""A worker's metrics endpoint shows the gate's verdicts and the stages' work, as they are
when scraped, and its readiness waits for the stages to join their groups."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import timedelta

import pytest
from aiokafka import TopicPartition

from contracts import LivenessTick
from kafkaio import WireRecord
from runtime import ProbeServer
from streams.processors.dispatcher import DispatchProcessor
from streams.processors.telemetry_gate import TelemetryGate
from streams.runtime.batch_loop import BatchLoop, LoopConfig
from streams.runtime.metrics import DispatchSample, gate_registry, sample_once, worker_probes
from streams.runtime.stages import GateStage
from tests.support.factories import T0, fix, requested
from tests.support.processor_inputs import record


def scrape(port: int, family: str) -> dict[str, float]:
    """The samples of one metric family, by their labels' values (in the labels' name order)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        text = answer.read().decode()
    samples = {}
    for line in text.splitlines():
        if line.startswith(family + "{"):
            labels, value = line.rsplit(" ", 1)
            samples[",".join(labels.split('"')[1::2])] = float(value)
    return samples


def status(port: int, path: str) -> int:
    """The HTTP status of a probe."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as error:
        return error.code


@pytest.fixture
def gate_loop() -> BatchLoop:
    gate = TelemetryGate()
    config = LoopConfig(bootstrap="localhost:1", group="g", source_topics=("telemetry",))
    return BatchLoop(config, GateStage(gate, {}))


@pytest.fixture
def port(gate_loop: BatchLoop) -> Iterator[int]:
    stage = gate_loop.stage
    assert isinstance(stage, GateStage)
    server = ProbeServer(worker_probes(stage.gate, loops=[gate_loop]), "127.0.0.1", 0)
    yield server.port
    server.close()


def test_the_gate_verdicts_are_served_and_read_at_scrape_time(
    gate_loop: BatchLoop, port: int
) -> None:
    stage = gate_loop.stage
    assert isinstance(stage, GateStage)
    gate, total = stage.gate, "dronefleet_gate_records_total"
    assert scrape(port, total) == {}, "nothing judged yet"
    gate.process(record(fix(seq=1)), T0)
    gate.process(record(fix(seq=1), offset=1), T0)  # the same fix again
    gate.process(record(b"\x00garbage", offset=2), T0)
    assert scrape(port, total) == {"valid": 1.0, "duplicate_sequence": 1.0, "undecodable": 1.0}
    gate.process(record(fix(seq=2, at=T0 + timedelta(seconds=1)), offset=3), T0)
    assert scrape(port, total)["valid"] == 2.0


class FakeConsumer:
    """The high watermarks a consumer knows after a fetch."""

    def highwater(self, tp: TopicPartition) -> int:
        return {0: 10, 1: 5}[tp.partition]


class Message:
    def __init__(self, offset: int) -> None:
        self.offset = offset


def test_the_stages_batches_records_and_lag_per_partition(gate_loop: BatchLoop, port: int) -> None:
    fetched = {
        TopicPartition("telemetry", 0): [Message(3), Message(4)],
        TopicPartition("telemetry", 1): [Message(4)],
    }
    outputs = [WireRecord("accepted-telemetry", b"k", b"v")] * 3
    gate_loop.stats.batch_done(0.25, fetched, outputs, FakeConsumer())
    assert scrape(port, "dronefleet_stage_batches_total") == {"validate-telemetry": 1.0}
    assert scrape(port, "dronefleet_stage_batch_seconds_total") == {"validate-telemetry": 0.25}
    assert scrape(port, "dronefleet_stage_records_in_total") == {
        "validate-telemetry,telemetry": 3.0
    }
    assert scrape(port, "dronefleet_stage_records_out_total") == {
        "validate-telemetry,accepted-telemetry": 3.0
    }
    assert scrape(port, "dronefleet_stage_lag_records") == {
        "0,validate-telemetry,telemetry": 5.0,  # read up to 4, the end is 10
        "1,validate-telemetry,telemetry": 0.0,
    }


def test_ready_once_every_stage_joined(gate_loop: BatchLoop, port: int) -> None:
    assert status(port, "/healthz") == 200
    assert status(port, "/readyz") == 503
    gate_loop.stats.joined = True
    assert status(port, "/readyz") == 200


def test_dispatch_s_queue_and_fleet_are_sampled_from_its_tables() -> None:
    dispatcher = DispatchProcessor(fleet={}, queue={})
    sample = DispatchSample()
    registry = gate_registry(TelemetryGate(), dispatcher, sample=sample)
    dispatcher.process(record(requested("first"), topic="dispatch"), T0)  # no drone yet
    assert registry.get_sample_value("dronefleet_dispatch_waiting_deliveries") is None, (
        "nothing before the first sample"
    )
    sample_once(dispatcher, sample)
    assert registry.get_sample_value("dronefleet_dispatch_waiting_deliveries") == 1
    assert (registry.get_sample_value("dronefleet_dispatch_oldest_wait_seconds") or 0) > 0

    for n, drone in enumerate(("d-1", "d-2", "d-3"), start=1):
        dispatcher.process(record(fix(drone_id=drone), topic="dispatch", offset=n), T0)
    tick = LivenessTick(event_id="t", sequence=1, occurred_at=T0, recorded_at=T0, worker="w")
    dispatcher.process(record(tick, topic="dispatch", offset=4), T0)  # the clock: no drone
    sample_once(dispatcher, sample)
    drones = {
        state: registry.get_sample_value("dronefleet_dispatch_drones", {"state": state})
        for state in ("available", "busy", "lost")
    }
    assert drones == {"available": 2, "busy": 1, "lost": 0}, "one took the waiting delivery"
    assert registry.get_sample_value("dronefleet_dispatch_waiting_deliveries") == 0
    assert registry.get_sample_value("dronefleet_dispatch_oldest_wait_seconds") == 0
