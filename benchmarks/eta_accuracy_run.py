"""ETA accuracy on a simulated run with wind: the whole platform, then issue 19's table.

Why: the ETA is the product's promise; its error must be measured, not assumed. This
starts the real platform (stack, sink, stream worker, API, simulator with demand through
the API) on its own topics and database, lets the fleet fly for `--minutes`, then reads
back every tracking update, delivery event (with the quote recorded with each request)
and fix from Kafka, and prints the table of issue 19's goals by lead time (1, 5, 10 and
15 minutes before arrival): median and p90 absolute error, the signed median, the share
of arrivals inside the ETA's window, and the quote at request for the deliveries picked
up within 15 minutes.

The platform's figure is what its customers were sent (the tracking topic), with the
window each update carried. The baseline's is the ETA before issue 19, the straight
line at the cruise airspeed and the smoothed speed, no speeding up or braking, computed
from the same fixes and events (replayed through the deliveries stage's processor
without airspace and without wind); beside it today's model with the route but without
the wind, to tell the parts apart. The replays' windows are the stage's own learner's
(`streams.domain.eta_window`), over each model's own updates in time order.

Missions must be long for the 10- and 15-minute rows: demand is drawn over
`--demand-radius-m` of the scenario's centre (the bundled Zurich scenario, its service
area widened by `--area-radius-m`: at 8 km a fifth of the missions take 15 minutes or
more from the assignment, at the scenario's 6 km one in twenty), for the first
`--demand-minutes`, and the fleet flies on until `--minutes`; a delivery counts only if
it arrived before the fleet stopped.

    python benchmarks/eta_accuracy_run.py --seed 1 --drones 80 --per-minute 5 \
        --area-radius-m 8000 --demand-radius-m 8000 --demand-minutes 14 --minutes 36 --out DIR
    python benchmarks/eta_accuracy_run.py --report-only PREFIX --api-log FILE --seed 1 --out DIR
    python benchmarks/eta_accuracy_run.py --pool DIR/seed-*.json  # the runs as one table
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import re
import secrets
import socket
import statistics
import sys
import time
import tomllib
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from aiokafka import TopicPartition

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from contracts import (
    AirspacePublished,
    DecodeError,
    Delivered,
    DeliveryRequested,
    PickedUp,
    TelemetryReported,
    Topics,
    TrackingUpdated,
    decode_event,
)
from contracts.airspace import AirspaceRules
from devstack import stack
from devstack.postgres import PostgresNode
from devstack.services import PlatformConfig, start_platform, stop_all
from devstack.settings import StackSettings
from kafkaio.log_range import read_to_end
from streams.domain.eta import EtaModel
from streams.domain.eta_window import EtaWindow
from streams.processors.delivery_processor import DeliveryProcessor
from streams.processors.delivery_repository import DeliveryRepository
from streams.processors.records import SourceRecord
from streams.processors.tracking_emitter import AirspaceInForce

LEADS_S = (60.0, 300.0, 600.0, 900.0)
WITHIN_S = 30.0
"""An update counts at a lead time when its own lead is within this of it."""
QUOTE_PICKED_UP_WITHIN_S = 900.0
SCENARIO = Path(__file__).resolve().parent.parent / "simulator/world/scenarios/zurich.toml"
QUOTE_LINE = re.compile(r"quote for (?P<id>\w+): pickup (?P<pickup>\S+), drop-off (?P<dropoff>\S+)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def read_events(bootstrap: str, topic: str, partitions: int) -> list[object]:
    """Every event on a topic (tombstones and undecodable records skipped)."""
    events: list[object] = []
    parts = [TopicPartition(topic, p) for p in range(partitions)]
    async for batch in read_to_end(bootstrap, parts, max_partition_fetch_bytes=8 << 20):
        for record in batch.records:
            if record.value is None:
                continue
            try:
                events.append(decode_event(record.value))
            except DecodeError:
                continue
    return events


BEFORE_ISSUE_19 = EtaModel(acceleration_mps2=math.inf, deceleration_mps2=math.inf)
"""The ETA's flight profile before issue 19: the cruise speed at once, no speeding up or
braking (with `wind=False` and no airspace, the baseline's whole model)."""


def replayed(
    events: list[object],
    fixes: list[TelemetryReported],
    rules: AirspaceRules | None,
    wind: bool,
    model: EtaModel | None = None,
) -> list[TrackingUpdated]:
    """The updates the deliveries stage sends for these events and fixes, in time order.

    Each with its window, learned by the stage's own learner as it goes (as the worker does).
    """
    processor = DeliveryProcessor.over_tables(
        DeliveryRepository({}, {}, {}),
        commands_topic="delivery-commands",
        eta_model=model,
        airspace=AirspaceInForce(rules) if rules is not None else None,
        wind=wind,
    )
    timeline = sorted(
        [(e.occurred_at, 0, i, e) for i, e in enumerate(events)]  # type: ignore[attr-defined]
        + [(f.occurred_at, 1, i, f) for i, f in enumerate(fixes)],
        key=lambda item: item[:3],
    )
    out: list[TrackingUpdated] = []
    from contracts import encode_event

    for at, kind, _, item in timeline:
        topic = "delivery-telemetry" if kind else "deliveries"
        record = SourceRecord(topic, 0, 0, b"k", encode_event(item))  # type: ignore[arg-type]
        for sent in processor.process(record, at):
            if sent.topic != "tracking":
                continue  # dispatch's copy of a request, a dead letter
            update = decode_event(sent.value)
            if isinstance(update, TrackingUpdated):
                out.append(update)
    return out


def scored(updates: list[TrackingUpdated]) -> list[tuple[float, float, bool]]:
    """(lead s, signed error s, arrival inside the window) of every ETA of an arrived delivery.

    The window is the update's own (`eta_earliest`, `eta_latest`: what the customer was
    shown); for updates recorded without one (runs before the worker sent it), the one
    the worker's learner (`EtaWindow`) gives over the updates in time order.
    """
    ordered = sorted(updates, key=lambda u: u.occurred_at)
    arrival = {u.delivery_id: u.occurred_at for u in ordered if u.status == "delivered"}
    learner = EtaWindow()
    rows: list[tuple[float, float, bool]] = []
    for update in ordered:
        window: tuple[datetime, datetime] | None
        if update.eta_earliest is not None and update.eta_latest is not None:
            window = (update.eta_earliest, update.eta_latest)
        else:
            window = learner.window(update.eta, update.occurred_at)
        learner.observe(update)
        arrived = arrival.get(update.delivery_id)
        if update.status == "delivered" or update.eta is None or arrived is None:
            continue
        lead = (arrived - update.occurred_at).total_seconds()
        if lead <= 0 or window is None:
            continue
        rows.append(
            (lead, (update.eta - arrived).total_seconds(), window[0] <= arrived <= window[1])
        )
    return rows


def lead_row(rows: list[tuple[float, float, bool]], lead: float) -> dict[str, float | int | None]:
    near = [(e, inside) for at, e, inside in rows if abs(at - lead) <= WITHIN_S]
    if not near:
        return {"n": 0, "median_abs": None, "p90_abs": None, "signed_median": None, "inside": None}
    absolute = sorted(abs(e) for e, _ in near)
    return {
        "n": len(near),
        "median_abs": statistics.median(absolute),
        "p90_abs": absolute[min(len(absolute) - 1, int(0.9 * len(absolute)))],
        "signed_median": statistics.median(e for e, _ in near),
        "inside": sum(inside for _, inside in near) / len(near),
    }


def quotes_from_events(events: Iterable[object]) -> dict[str, tuple[datetime, datetime]]:
    """The quotes recorded with the requests (`DeliveryRequested.quoted_*`), by delivery id."""
    return {
        e.delivery_id: (e.quoted_pickup_at, e.quoted_dropoff_at)
        for e in events
        if isinstance(e, DeliveryRequested)
        and e.quoted_pickup_at is not None
        and e.quoted_dropoff_at is not None
    }


def quotes_from_log(log: Path) -> dict[str, tuple[datetime, datetime]]:
    """The API's quotes (pickup, drop-off) by delivery id, from its log lines."""
    found: dict[str, tuple[datetime, datetime]] = {}
    for line in log.read_text(errors="replace").splitlines():
        match = QUOTE_LINE.search(line)
        if match:
            found.setdefault(
                match["id"],
                (
                    datetime.fromisoformat(match["pickup"]),
                    datetime.fromisoformat(match["dropoff"]),
                ),
            )
    return found


def quote_errors(
    quotes: dict[str, tuple[datetime, datetime]], events: Iterable[object]
) -> tuple[list[float], list[float]]:
    """The quotes' errors in seconds (quote - actual), drop-off and pickup, of the
    deliveries picked up within 15 minutes of their request and delivered."""
    requested: dict[str, datetime] = {}
    picked: dict[str, datetime] = {}
    delivered: dict[str, datetime] = {}
    for event in events:
        if isinstance(event, DeliveryRequested):
            requested[event.delivery_id] = event.occurred_at
        elif isinstance(event, PickedUp):
            picked.setdefault(event.delivery_id, event.occurred_at)
        elif isinstance(event, Delivered):
            delivered[event.delivery_id] = event.occurred_at
    drop_errors, pickup_errors = [], []
    for delivery_id, (pickup_at, dropoff_at) in quotes.items():
        asked, got, arrived = (
            requested.get(delivery_id),
            picked.get(delivery_id),
            delivered.get(delivery_id),
        )
        if asked is None or got is None or arrived is None:
            continue
        if (got - asked).total_seconds() > QUOTE_PICKED_UP_WITHIN_S:
            continue
        drop_errors.append((dropoff_at - arrived).total_seconds())
        pickup_errors.append((pickup_at - got).total_seconds())
    return drop_errors, pickup_errors


def quote_row(
    drop_errors: list[float], pickup_errors: list[float], quoted: int
) -> dict[str, float | int | None]:
    """Median, p90 and signed median of the quotes' drop-off errors (and the pickup's)."""
    if not drop_errors:
        return {"n": 0, "quoted": quoted}
    absolute = sorted(abs(e) for e in drop_errors)
    return {
        "n": len(drop_errors),
        "quoted": quoted,
        "median_abs": statistics.median(absolute),
        "p90_abs": absolute[min(len(absolute) - 1, int(0.9 * len(absolute)))],
        "signed_median": statistics.median(drop_errors),
        "pickup_median_abs": statistics.median(abs(e) for e in pickup_errors),
        "pickup_signed_median": statistics.median(pickup_errors),
    }


def figures_of(
    models: dict[str, list[tuple[float, float, bool]]],
    drop_errors: list[float],
    pickup_errors: list[float],
    quoted: int,
) -> dict[str, object]:
    """The table's figures, and the raw errors they come from (kept near each lead)."""
    return {
        "leads": {
            f"{lead / 60:.0f} min": {name: lead_row(rows, lead) for name, rows in models.items()}
            for lead in LEADS_S
        },
        "quote": quote_row(drop_errors, pickup_errors, quoted),
        "raw": {
            "rows": {
                name: [
                    [round(at, 1), round(e, 2), inside]
                    for at, e, inside in rows
                    if any(abs(at - lead) <= WITHIN_S for lead in LEADS_S)
                ]
                for name, rows in models.items()
            },
            "quote_dropoff": drop_errors,
            "quote_pickup": pickup_errors,
            "quoted": quoted,
        },
    }


def pooled(paths: list[Path]) -> dict[str, object]:
    """The figures of several runs together, from their JSON files' raw errors."""
    models: dict[str, list[tuple[float, float, bool]]] = {}
    drop: list[float] = []
    pickup: list[float] = []
    quoted = deliveries = fixes = 0
    for path in paths:
        run = json.loads(path.read_text())
        raw = run["raw"]
        for name, rows in raw["rows"].items():
            models.setdefault(name, []).extend((at, e, inside) for at, e, inside in rows)
        drop += raw["quote_dropoff"]
        pickup += raw["quote_pickup"]
        quoted += raw["quoted"]
        deliveries += run["deliveries"]
        fixes += run["fixes"]
    return {"deliveries": deliveries, "fixes": fixes, **figures_of(models, drop, pickup, quoted)}


def report(bootstrap: str, prefix: str, api_log: Path | None) -> dict[str, object]:
    """The table's figures for the run on topics `prefix`."""
    topics = Topics.with_prefix(prefix)
    tracking = asyncio.run(read_events(bootstrap, topics.tracking.name, topics.tracking.partitions))
    events = asyncio.run(
        read_events(bootstrap, topics.deliveries.name, topics.deliveries.partitions)
    )
    fixes = [
        f
        for f in asyncio.run(
            read_events(
                bootstrap, topics.delivery_telemetry.name, topics.delivery_telemetry.partitions
            )
        )
        if isinstance(f, TelemetryReported)
    ]
    published = [
        a
        for a in asyncio.run(read_events(bootstrap, topics.airspace.name, 1))
        if isinstance(a, AirspacePublished)
    ]
    rules = AirspaceRules(published[-1]) if published else None
    live = [u for u in tracking if isinstance(u, TrackingUpdated)]
    models = {
        "platform": scored(live),
        "route, no wind": scored(replayed(events, fixes, rules, wind=False)),
        "baseline": scored(replayed(events, fixes, None, wind=False, model=BEFORE_ISSUE_19)),
    }
    # The quotes as recorded with the requests; the API's log lines for runs before the
    # requests carried them (both say the same where both exist).
    logged = quotes_from_log(api_log) if api_log is not None and api_log.exists() else {}
    quotes = {**logged, **quotes_from_events(events)}
    drop, pickup = quote_errors(quotes, events)
    return {
        "prefix": prefix,
        "deliveries": len({u.delivery_id for u in live if u.status == "delivered"}),
        "fixes": len(fixes),
        **figures_of(models, drop, pickup, len(quotes)),
    }


def render(figures: dict[str, object]) -> str:
    """The table as Markdown."""

    def s(value: object, signed: bool = False) -> str:
        if value is None:
            return "-"
        return f"{value:+.1f}" if signed else f"{value:.1f}"

    lines = [
        f"{figures['deliveries']} deliveries arrived, {figures['fixes']} fixes on missions",
        "",
        "| lead | ETA | n | median abs (s) | p90 abs (s) | signed median (s) | inside window |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    leads = figures["leads"]
    assert isinstance(leads, dict)
    for lead, by_model in leads.items():
        for name, row in by_model.items():
            inside = "-" if row["inside"] is None else f"{row['inside']:.0%}"
            lines.append(
                f"| {lead} | {name} | {row['n']} | {s(row['median_abs'])} | {s(row['p90_abs'])}"
                f" | {s(row['signed_median'], True)} | {inside} |"
            )
    quote = figures["quote"]
    assert isinstance(quote, dict)
    lines += [
        "",
        f"Quote at request ({quote.get('quoted', 0)} quoted; {quote['n']} picked up within"
        " 15 min and delivered): drop-off median abs "
        f"{s(quote.get('median_abs'))} s, p90 {s(quote.get('p90_abs'))} s, signed median "
        f"{s(quote.get('signed_median'), True)} s; pickup median abs "
        f"{s(quote.get('pickup_median_abs'))} s, signed "
        f"{s(quote.get('pickup_signed_median'), True)} s",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--drones", type=int, default=40)
    parser.add_argument("--per-minute", type=float, default=5.0)
    parser.add_argument("--minutes", type=float, default=12.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--demand-radius-m", type=float, default=6000.0)
    parser.add_argument(
        "--area-radius-m",
        type=float,
        default=None,
        help="widen the scenario's service area (default: the scenario's 6 km); with 8 km a"
        " fifth of the missions take 15 minutes or more, the table's last row",
    )
    parser.add_argument(
        "--demand-minutes",
        type=float,
        default=None,
        help="requests only in the first minutes (default: all along), so that the long"
        " missions requested last still arrive before the fleet stops",
    )
    parser.add_argument("--out", type=Path, help="write the table and its JSON here")
    parser.add_argument("--report-only", metavar="PREFIX", help="report on a finished run")
    parser.add_argument("--api-log", type=Path, help="with --report-only: the API's log")
    parser.add_argument("--pool", type=Path, nargs="+", help="runs' JSON files: one table")
    args = parser.parse_args()

    settings = StackSettings()
    if args.pool:
        print(f"{len(args.pool)} runs pooled\n\n{render(pooled(args.pool))}")
        return
    if args.report_only:
        figures = report(settings.kafka_bootstrap, args.report_only, args.api_log)
        run = f"report on {args.report_only}"
    else:
        figures, run = fly(args, settings)
    text = f"{run}\n\n{render(figures)}"
    print(text)
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        stem = f"seed-{args.seed}"
        (args.out / f"{stem}.md").write_text(text + "\n")
        (args.out / f"{stem}.json").write_text(json.dumps(figures, separators=(",", ":")) + "\n")


def fly(args: argparse.Namespace, settings: StackSettings) -> tuple[dict[str, object], str]:
    """Start the platform, fly, stop it; the figures and the run's description."""
    prefix = f"eta{secrets.token_hex(3)}-"
    stack.up(settings, Topics.with_prefix(prefix))
    database = f"eta_{prefix.rstrip('-')}"
    PostgresNode(settings).ensure_database(database)
    config = PlatformConfig(
        stack=settings, database=database, topic_prefix=prefix, api_port=free_port()
    )
    logs = settings.home / "bench-logs" / prefix
    logs.mkdir(parents=True, exist_ok=True)
    scenario = logs / "scenario.toml"
    text = re.sub(
        r"demand_radius_m = [0-9.]+",
        f"demand_radius_m = {args.demand_radius_m}",
        SCENARIO.read_text(),
    )
    if args.area_radius_m is not None:
        text = re.sub(r"(?m)^radius_m = [0-9.]+", f"radius_m = {args.area_radius_m}", text)
    scenario.write_text(text)
    simulator_args = [
        "--drones",
        str(args.drones),
        "--demand-per-minute",
        str(args.per_minute),
        "--duration",
        str(args.minutes * 60),
        "--seed",
        str(args.seed),
        "--scenario",
        str(scenario),
    ]
    print(
        f"platform on topics {prefix}*, logs in {logs}; flying for {args.minutes} min...",
        flush=True,
    )
    started = time.time()
    # The quote's wind: the scenario's prevailing wind, as an operator's forecast would
    # give it (`ApiSettings.quote_wind_mps`, `quote_wind_from_deg`); the stream worker
    # learns the wind from the fixes and is told nothing.
    wind = tomllib.loads(text)["wind"]
    extra_env = {
        "DRONEFLEET_API_QUOTE_WIND_MPS": str(wind["speed_mps"]),
        "DRONEFLEET_API_QUOTE_WIND_FROM_DEG": str(wind["from_deg"]),
    }
    if args.demand_minutes is not None:
        extra_env["DRONEFLEET_SIMULATOR_DEMAND_FOR_S"] = str(args.demand_minutes * 60)
    services = start_platform(config, logs, simulator_args, extra_env)
    try:
        simulator = services[-1]
        deadline = time.monotonic() + args.minutes * 60 + 120
        while simulator.alive() and time.monotonic() < deadline:
            time.sleep(5)
        time.sleep(5)  # the last tracking updates reach the topic
    finally:
        stop_all(services)
    load = os.getloadavg()
    figures = report(settings.kafka_bootstrap, prefix, logs / "api.log")
    run = (
        f"{args.drones} drones, {args.per_minute} requests/min over {args.demand_radius_m:.0f} m"
        f" of a {args.area_radius_m or 6000:.0f} m service area"
        f" for {args.demand_minutes or args.minutes} min, {args.minutes} min in all,"
        f" seed {args.seed}; topics {prefix}*;"
        f" {time.time() - started:.0f} s wall; load average at the end"
        f" {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; {os.cpu_count()} CPUs"
    )
    return figures, run


if __name__ == "__main__":
    main()
