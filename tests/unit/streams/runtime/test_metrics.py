"""A worker's metrics endpoint shows the gate's verdicts, as they are when scraped."""

from __future__ import annotations

import urllib.request
from datetime import timedelta

from streams.processors.telemetry_gate import TelemetryGate
from streams.runtime.metrics import gate_registry, serve
from tests.support.factories import T0, fix
from tests.support.processor_inputs import record


def scrape(port: int) -> dict[str, float]:
    """The `dronefleet_gate_records_total` samples, by verdict."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        text = answer.read().decode()
    samples = {}
    for line in text.splitlines():
        if line.startswith("dronefleet_gate_records_total{"):
            labels, value = line.rsplit(" ", 1)
            samples[labels.split('"')[1]] = float(value)
    return samples


def test_the_gate_verdicts_are_served_and_read_at_scrape_time() -> None:
    gate = TelemetryGate()
    port = serve(gate_registry(gate), "127.0.0.1", 0)
    assert scrape(port) == {}, "nothing judged yet"
    gate.process(record(fix(seq=1)), T0)
    gate.process(record(fix(seq=1), offset=1), T0)  # the same fix again
    gate.process(record(b"\x00garbage", offset=2), T0)
    assert scrape(port) == {"valid": 1.0, "duplicate_sequence": 1.0, "undecodable": 1.0}
    gate.process(record(fix(seq=2, at=T0 + timedelta(seconds=1)), offset=3), T0)
    assert scrape(port)["valid"] == 2.0
