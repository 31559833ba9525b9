"""The ETA's error on missions that bend round a no-fly zone: the route against the line.

Why this exists: issue 19 names the straight line as one of the ETA's known errors, and
drones fly round the zones. This flies missions whose routes bend round Zurich's zones
(the simulator's sans-I/O engine, in-process, seeded), feeds every fix and milestone to
the deliveries stage's processor twice, with the airspace (the route-length ETA) and
without it (the straight line, the ETA before), and compares each tracking update's ETA
with the moment the drop-off was done: median and 90th percentile of the absolute error,
and the signed median, by lead time (the time still to go when the ETA was given), and
the share of arrivals inside the ETA's window (`streams.domain.eta_window`, learned as the run goes:
the first missions' updates have the wide default window).

A few seconds of CPU, no broker: `python benchmarks/eta_route_accuracy.py [--missions N]
[--seed S] [--wind]`. Calm air by default, so the route is the only difference.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from contracts import (
    Delivered,
    DeliveryRequested,
    DroneAssigned,
    GeoPoint,
    PickedUp,
    TelemetryReported,
    TrackingUpdated,
    decode_event,
    encode_event,
)
from contracts.airspace import AirspaceRules
from simulator.flight.engine import FleetEngine, FlightSpec
from simulator.flight.reports import DropoffDone, PickupDone
from simulator.flight.wind import WindSpec
from simulator.world.published import airspace_of
from simulator.world.scenario import default_scenario
from streams.domain.eta_window import EtaWindow as EtaBands
from streams.processors.delivery_processor import DeliveryProcessor
from streams.processors.delivery_repository import DeliveryRepository
from streams.processors.records import SourceRecord
from streams.processors.tracking_emitter import AirspaceInForce
from tests.support.factories import T0

STAGGER_S = 15
"""Seconds between two missions' starts: arrivals come all along the run, so the window
learns while later missions are predicted (as on a platform in service)."""
LEADS_S = (60, 300, 600, 900)
"""Lead times reported, each with updates within 30 s of it."""


def missions(rules: AirspaceRules, count: int, rng: random.Random) -> list[tuple[GeoPoint, ...]]:
    """(depot, pickup, drop-off) triples whose flight bends round a zone on some leg."""
    depots = [d.position for d in rules.airspace.depots]
    found: list[tuple[GeoPoint, ...]] = []
    while len(found) < count:
        pickup = GeoPoint(rng.uniform(47.36, 47.50), rng.uniform(8.48, 8.68))
        dropoff = GeoPoint(rng.uniform(47.36, 47.50), rng.uniform(8.48, 8.68))
        if rules.zone_at(pickup) or rules.zone_at(dropoff):
            continue
        depot = min(depots, key=lambda d: rules.route_m(d, pickup))
        legs = (rules.route(depot, pickup), rules.route(pickup, dropoff))
        total = rules.route_m(depot, pickup) + rules.route_m(pickup, dropoff)
        if any(len(leg) > 2 for leg in legs) and total < 12_000:
            found.append((depot, pickup, dropoff))
    return found


def record(event: object, topic: str) -> SourceRecord:
    return SourceRecord(topic, 0, 0, b"k", encode_event(event))  # type: ignore[arg-type]


def run(
    seed: int, count: int, wind: bool
) -> tuple[int, dict[str, list[tuple[float, float, bool]]]]:
    """The missions flown, and (lead s, signed error s, arrival inside the window) of every
    update, route and line."""
    scenario = default_scenario()
    rules = AirspaceRules(airspace_of(scenario, T0))
    rng = random.Random(seed)
    chosen = missions(rules, count, rng)
    calm = WindSpec(speed_mps=0.0, from_deg=0.0, variation_mps=0.0)
    engine = FleetEngine(
        [f"drone-{i:03d}" for i in range(len(chosen))],
        [depot for depot, _, _ in chosen],
        scenario.depots,
        FlightSpec(),
        seed,
        airspace=scenario.airspace,
        wind=scenario.wind if wind else calm,
    )
    processors = {
        name: DeliveryProcessor.over_tables(
            DeliveryRepository({}, {}, {}),
            commands_topic="delivery-commands",
            airspace=airspace,
            wind=wind_on,
        )
        for name, airspace, wind_on in (
            ("wind", AirspaceInForce(rules), True),
            ("route", AirspaceInForce(rules), False),
            ("line", None, False),
        )
    }

    def start(index: int, now: datetime) -> None:
        """Give mission `index` to its drone at `now` (if its battery check takes it)."""
        _, pickup, dropoff = chosen[index]
        delivery_id, drone_id = f"d{index}", f"drone-{index:03d}"
        asked = DeliveryRequested(
            event_id=f"r{index}",
            sequence=1,
            occurred_at=now,
            recorded_at=now,
            delivery_id=delivery_id,
            business_id="b",
            pickup=pickup,
            dropoff=dropoff,
        )
        given = DroneAssigned(
            event_id=f"a{index}",
            sequence=2,
            occurred_at=now,
            recorded_at=now,
            delivery_id=delivery_id,
            drone_id=drone_id,
            pickup=pickup,
            dropoff=dropoff,
        )
        if not engine.assign(given):
            return  # the drone's own battery check refuses it: not a mission flown
        for processor in processors.values():
            processor.process(record(asked, "deliveries"), now)
            processor.process(record(given, "deliveries"), now)

    etas: dict[str, dict[str, list[tuple[float, float, float, float]]]] = {
        n: {} for n in processors
    }
    done: dict[str, float] = {}
    bands = {name: EtaBands() for name in processors}  # each ETA's window, learned as the API
    for tick in range(4 * 3600):
        now = T0 + timedelta(seconds=tick)
        if tick % STAGGER_S == 0 and tick // STAGGER_S < len(chosen):
            start(tick // STAGGER_S, now)
        for report in engine.step(now, 1.0):
            milestone: object | None = None
            if isinstance(report, PickupDone):
                milestone = PickedUp(
                    event_id=report.report_id,
                    sequence=3,
                    occurred_at=report.at,
                    recorded_at=report.at,
                    delivery_id=report.delivery_id,
                    drone_id=report.drone_id,
                )
            elif isinstance(report, DropoffDone):
                done[report.delivery_id] = (report.at - T0).total_seconds()
                milestone = Delivered(
                    event_id=report.report_id,
                    sequence=4,
                    occurred_at=report.at,
                    recorded_at=report.at,
                    delivery_id=report.delivery_id,
                    drone_id=report.drone_id,
                )
            for name, processor in processors.items():
                if milestone is not None:
                    outs = processor.process(record(milestone, "deliveries"), now)
                elif isinstance(report, TelemetryReported) and report.delivery_id:
                    outs = processor.process(record(report, "dt"), now)
                else:
                    continue
                for out in outs:
                    update = decode_event(out.value)
                    if not isinstance(update, TrackingUpdated):
                        continue
                    window = bands[name].window(update.eta, update.occurred_at)
                    bands[name].observe(update)
                    if update.eta is not None and window is not None:
                        at = (update.occurred_at - T0).total_seconds()
                        eta = (update.eta - T0).total_seconds()
                        early, late = ((w - T0).total_seconds() for w in window)
                        etas[name].setdefault(update.delivery_id, []).append((at, eta, early, late))
        if engine.in_flight() == 0 and tick // STAGGER_S >= len(chosen):
            break
    errors: dict[str, list[tuple[float, float, bool]]] = {n: [] for n in processors}
    for name, by_delivery in etas.items():
        for delivery_id, predictions in by_delivery.items():
            if delivery_id in done:
                arrived = done[delivery_id]
                errors[name] += [
                    (arrived - at, eta - arrived, early <= arrived <= late)
                    for at, eta, early, late in predictions
                ]
    return len(done), errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--missions", type=int, default=30)
    parser.add_argument("--seed", type=int, default=19)
    parser.add_argument("--wind", action="store_true", help="the scenario's wind, not calm air")
    args = parser.parse_args()
    flown, errors = run(args.seed, args.missions, args.wind)
    print(
        f"{flown} missions bending round a zone flown, seed {args.seed}, "
        f"{'scenario wind' if args.wind else 'calm air'}"
    )
    print("lead | ETA   | n    | median |abs| | p90 |abs| | signed median | inside window")
    for lead in LEADS_S:
        for name, rows in errors.items():
            near = [(error, inside) for ahead, error, inside in rows if abs(ahead - lead) <= 30]
            if not near:
                continue
            absolute = sorted(abs(e) for e, _ in near)
            p90 = absolute[min(len(absolute) - 1, int(0.9 * len(absolute)))]
            share = sum(inside for _, inside in near) / len(near)
            print(
                f"{lead // 60:>3} min | {name:<5} | {len(near):>4} | "
                f"{statistics.median(absolute):>9.1f} s | {p90:>8.1f} s | "
                f"{statistics.median(e for e, _ in near):>+8.1f} s | {share:>6.0%}"
            )


if __name__ == "__main__":
    main()
