"""Dispatch's capacity on one core: what one owner of the single dispatch partition can take.

Why this exists: dispatch is one partition by design (`streams.processors.dispatcher`
says why), so its processor's speed is the fleet's ceiling, whatever the number of
workers. Issue 20 asks whether that ceiling is within a realistic fleet's reach. This
times the processor itself (no Kafka, no Faust: dict tables, as its unit tests run it),
which is the part that cannot be spread over workers; what Faust adds per record is
measured by benchmarks/faust_agent_bench.py (about 11,000 records/s).

For each fleet size (idle drones spread over the Zurich scenario's depots) and each run:
- `heard per drone`: the cost of one drone in the liveness refresh, side by side in the
  same run: as one `FleetHeard` of 2,000 drones (the gate's batches since issue 20)
  against one `TelemetryReported` record per drone (the records before it, which the
  dispatcher still reads), and the fleet-table writes the refresh causes (each is a
  changelog record in the worker; none when no drone changed). Faust's own cost per
  record (about 90 us) comes on top of each record in the worker, so the processor's
  ratio understates what batching saves there;
- `decision`: a new request with an empty queue, from the record to the proposal
  (p50 and p99 over `requests` requests, each taking one drone out of the pool);
- `round with N waiting`: a drone freed while N deliveries wait (demand above the
  fleet): the queue is decoded and tried in request order on every such round;
- `requests/s at saturation`: one second of dispatch's time, less the refresh
  (fleet / refresh period drones heard per second, as the gates send them), spent on
  decisions at the median decision time.

Runs interleave the fleet sizes; the summary gives the median and the worst run. Run from
the repository root: `python benchmarks/dispatch_capacity_bench.py [--fleets 10000,50000]
[--runs 5] [--out FILE]`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import msgspec
import numpy as np

from contracts import (
    FLEET_HEARD_MAX,
    DeliveryRequested,
    DroneHeard,
    FleetHeard,
    GeoPoint,
    LivenessTick,
    TelemetryReported,
    encode_event,
)
from simulator.world.published import airspace_of
from simulator.world.scenario import default_scenario
from streams.processors.dispatcher import DispatchProcessor
from streams.processors.records import SourceRecord

T0 = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
REFRESH_S = 5.0
"""The gates' `fleet_refresh` default: every drone is heard at least this often."""


def record(value: bytes) -> SourceRecord:
    return SourceRecord("dispatch", 0, 0, b"fleet", value)


def fleet(size: int, seed: int) -> list[DroneHeard]:
    """`size` idle drones within 2 km of the scenario's depots."""
    rng = np.random.default_rng(seed)
    depots = default_scenario().depots
    drones = []
    for n in range(size):
        depot = depots[n % len(depots)]
        drones.append(
            DroneHeard(
                drone_id=f"drone-{n:06d}",
                occurred_at=T0,
                lat=depot.lat + float(rng.uniform(-0.015, 0.015)),
                lon=depot.lon + float(rng.uniform(-0.02, 0.02)),
                battery_pct=float(rng.uniform(60, 100)),
                phase="idle",
            )
        )
    return drones


def heard_records(drones: list[DroneHeard], at: datetime) -> list[bytes]:
    """The refresh as the gates write it: `FleetHeard` records of up to 2,000 drones."""
    moved = [
        DroneHeard(
            drone_id=d.drone_id,
            occurred_at=at,
            lat=d.lat,
            lon=d.lon,
            battery_pct=d.battery_pct,
            phase=d.phase,
        )
        for d in drones
    ]
    return [
        encode_event(
            FleetHeard(
                event_id=f"h{at.timestamp()}-{i}",
                sequence=1,
                occurred_at=at,
                recorded_at=at,
                gate="bench",
                drones=tuple(moved[i : i + FLEET_HEARD_MAX]),
            )
        )
        for i in range(0, len(moved), FLEET_HEARD_MAX)
    ]


def fix_records(drones: list[DroneHeard], at: datetime) -> list[bytes]:
    """The refresh as the gates wrote it before: one `TelemetryReported` per drone."""
    return [
        encode_event(
            TelemetryReported(
                event_id=f"f{d.drone_id}-{at.timestamp()}",
                sequence=int(at.timestamp()),
                occurred_at=at,
                recorded_at=at,
                drone_id=d.drone_id,
                lat=d.lat,
                lon=d.lon,
                altitude_m=0.0,
                ground_speed_mps=0.0,
                heading_deg=0.0,
                battery_pct=d.battery_pct,
                phase="idle",
            )
        )
        for d in drones
    ]


def request(
    n: int, at: datetime, near: DroneHeard | None = None, scenario_rng: Any = None
) -> bytes:
    """Request `n`: beside the drone `near` (400 m off, 1.4 km long), or at two random
    points of the scenario's demand area (`scenario_rng`: the scenario and a `Random`)."""
    if near is not None:
        pickup = GeoPoint(near.lat + 0.004, near.lon + 0.004)
        dropoff = GeoPoint(pickup.lat + 0.01, pickup.lon - 0.01)
    else:
        scenario, rng = scenario_rng
        pickup, dropoff = scenario.random_point(rng), scenario.random_point(rng)
    return encode_event(
        DeliveryRequested(
            event_id=f"r{n}",
            sequence=1,
            occurred_at=at,
            recorded_at=at,
            delivery_id=f"job-{n:06d}",
            business_id="bench",
            pickup=pickup,
            dropoff=dropoff,
        )
    )


def tick(at: datetime) -> bytes:
    return encode_event(
        LivenessTick(event_id="t", sequence=1, occurred_at=at, recorded_at=at, worker="bench")
    )


class CountingTable(dict[bytes, bytes]):
    """A fleet table that counts writes: in the worker each is a changelog record."""

    writes = 0

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self.writes += 1
        super().__setitem__(key, value)


def new_dispatcher() -> DispatchProcessor:
    return DispatchProcessor(fleet=CountingTable(), queue={})


def table_writes(dispatcher: DispatchProcessor) -> int:
    assert isinstance(dispatcher.fleet, CountingTable)
    return dispatcher.fleet.writes


def timed(dispatcher: DispatchProcessor, values: list[bytes]) -> float:
    started = time.perf_counter()
    for value in values:
        dispatcher.process(record(value), T0)
    return time.perf_counter() - started


def one_run(size: int, requests: int, waiting: int, seed: int) -> dict[str, Any]:
    drones = fleet(size, seed)
    at = T0 + timedelta(seconds=1)
    batched, single = new_dispatcher(), new_dispatcher()
    for dispatcher in (batched, single):
        dispatcher.process(record(tick(T0)), T0)
        timed(dispatcher, heard_records(drones, T0))  # known, written once
    # The refresh, side by side: nothing changed but the time (the common case).
    written = table_writes(batched)
    heard_s = timed(batched, heard_records(drones, at))
    refresh_writes = table_writes(batched) - written
    fixes_s = timed(single, fix_records(drones, at))
    # Decisions with an empty queue: each request takes one drone.
    latencies = []
    for n in range(requests):
        value = request(n, at, near=drones[(n * 7919) % size])
        started = time.perf_counter()
        out = batched.process(record(value), T0)
        latencies.append(time.perf_counter() - started)
        assert out, "a drone was free"
    # Demand above the fleet: every drone busy, `waiting` deliveries queued, then one
    # drone is freed (its `returned` fix) and a round runs over the queue.
    crowded = new_dispatcher()
    crowded.process(record(tick(T0)), T0)
    busy = [
        DroneHeard(
            drone_id=d.drone_id,
            occurred_at=T0,
            lat=d.lat,
            lon=d.lon,
            battery_pct=d.battery_pct,
            phase="to_dropoff",
            delivery_id=f"flying-{d.drone_id}",
        )
        for d in drones
    ]
    timed(crowded, heard_records(busy, T0))
    timed(crowded, [request(n, at, near=drones[n % size]) for n in range(waiting)])
    freed = heard_records(drones[:1], at + timedelta(seconds=1))
    round_s = timed(crowded, freed)
    decision = statistics.median(latencies)
    refresh_share = (size / REFRESH_S) * heard_s / size
    return {
        "fleet": size,
        "heard_us_per_drone": heard_s / size * 1e6,
        "fix_record_us_per_drone": fixes_s / size * 1e6,
        "table_writes_per_refresh": refresh_writes,
        "decision_p50_ms": decision * 1e3,
        "decision_p99_ms": float(np.percentile(latencies, 99)) * 1e3,
        "assignments_per_s": requests / sum(latencies),
        "waiting": waiting,
        "round_with_waiting_ms": round_s * 1e3,
        "refresh_share_of_a_second": refresh_share,
        "requests_per_s_at_saturation": max(0.0, 1.0 - refresh_share) / decision,
    }


def parked_run(size: int, requests: int, waiting: int, seed: int) -> dict[str, Any]:
    """The end-to-end benchmark's case: drones parked at the depots, the airspace in force.

    Idle drones stand exactly at their depot, as the simulator lands them, so a depot is
    hundreds of drones at one position; dispatch weighs them along the routes around the
    scenario's zones. Measured: a decision (a request at a random point of the demand
    area, the whole fleet free), and the round after one drone landed back at its depot
    with 70 % while `waiting` deliveries wait that no drone at 21 % could fly: what each
    `FleetHeard` that frees a drone costs.
    """
    scenario = default_scenario()
    rng = random.Random(seed)
    airspace = record(encode_event(airspace_of(scenario, T0)))
    at = T0 + timedelta(seconds=1)

    def parked(battery: float, n: int) -> DroneHeard:
        depot = scenario.depots[n % len(scenario.depots)]
        return DroneHeard(
            drone_id=f"drone-{n:06d}",
            occurred_at=T0,
            lat=depot.lat,
            lon=depot.lon,
            battery_pct=battery,
            phase="idle",
        )

    def asked(n: int) -> bytes:
        return request(n, at, scenario_rng=(scenario, rng))

    free = new_dispatcher()
    free.process(record(tick(T0)), T0)
    free.process(airspace, T0)
    timed(free, heard_records([parked(rng.uniform(60, 100), n) for n in range(size)], T0))
    latencies = []
    for n in range(requests):
        value = asked(n)
        started = time.perf_counter()
        free.process(record(value), T0)
        latencies.append(time.perf_counter() - started)
    low = new_dispatcher()
    low.process(record(tick(T0)), T0)
    low.process(airspace, T0)
    flying = msgspec.structs.replace(parked(21.0, 0), phase="to_dropoff", delivery_id="flown")
    timed(low, heard_records([flying, *(parked(21.0, n) for n in range(1, size))], T0))
    timed(low, [asked(requests + n) for n in range(waiting)])
    assert len(low.waiting()) == waiting, "no drone at 21 % flies these"
    back = msgspec.structs.replace(parked(70.0, 0), occurred_at=at)
    round_s = timed(low, heard_records([back], at))
    return {
        "fleet": size,
        "parked_decision_p50_ms": statistics.median(latencies) * 1e3,
        "parked_decision_p99_ms": float(np.percentile(latencies, 99)) * 1e3,
        "parked_waiting": waiting,
        "parked_round_after_a_return_ms": round_s * 1e3,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fleets", default="10000,50000")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--waiting", type=int, default=1000)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    sizes = [int(x) for x in args.fleets.split(",") if x]
    runs: list[dict[str, Any]] = []
    for run in range(1, args.runs + 1):
        for size in sizes:
            result = {
                "run": run,
                **one_run(size, args.requests, args.waiting, seed=run),
                **parked_run(size, args.requests, args.waiting, seed=run),
            }
            runs.append(result)
            print(json.dumps(result), flush=True)
    summary: list[dict[str, Any]] = []
    for size in sizes:
        mine = sorted((r for r in runs if r["fleet"] == size), key=lambda r: r["decision_p50_ms"])
        median, worst = mine[(len(mine) - 1) // 2], mine[-1]
        summary.append({"fleet": size, "median_run": median, "worst_run": worst})
    report = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}",
        "load_average_before": os.getloadavg(),
        "runs": runs,
        "summary": summary,
    }
    for row in summary:
        m, w = row["median_run"], row["worst_run"]
        print(
            f"fleet {row['fleet']:>6,}: decision p50 {m['decision_p50_ms']:.2f} ms "
            f"(worst run {w['decision_p50_ms']:.2f}), p99 {m['decision_p99_ms']:.2f} ms; "
            f"heard {m['heard_us_per_drone']:.1f} us/drone against "
            f"{m['fix_record_us_per_drone']:.1f} as fix records "
            f"(ratio {m['heard_us_per_drone'] / m['fix_record_us_per_drone']:.2f}); "
            f"round with {m['waiting']} waiting {m['round_with_waiting_ms']:.1f} ms; "
            f"saturation {m['requests_per_s_at_saturation']:,.0f} requests/s; parked at "
            f"the depots with the airspace: decision p50 {m['parked_decision_p50_ms']:.2f} ms,"
            f" p99 {m['parked_decision_p99_ms']:.2f} ms, round after a return with "
            f"{m['parked_waiting']} waiting {m['parked_round_after_a_return_ms']:.1f} ms"
        )
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
