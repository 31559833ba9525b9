"""Cost of `TrackingEmitter.on_fix`, the deliveries stage's hot path, per fix.

Why this exists: every fix of a drone on a mission goes through `on_fix` (10,000 a
second at 10,000 drones), and the route-aware ETA (issue 19) adds a route to each
delivery's tracking memory. This measures what a fix costs with realistic inputs: 1,000
deliveries in flight over central Zurich (a third of them behind a no-fly zone, so with
an airspace their ETA follows a route with corners, which the drones fly), one fix a
second per drone, in tables held in dicts as the stage holds them, tracking updates at
most once a second.

Run from the repository root: `python benchmarks/tracking_fix_bench.py [--no-airspace]`.
"""

from __future__ import annotations

import argparse
import itertools
import math
import random
import sys
import timeit
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from contracts import GeoPoint, TelemetryReported, new_event_id
from contracts.airspace import AirspaceRules
from simulator.world.published import airspace_of
from simulator.world.scenario import default_scenario
from streams.domain.delivery import DeliveryState
from streams.processors.delivery_processor import DeliveryProcessor
from streams.processors.delivery_repository import DeliveryRepository
from streams.processors.tracking_emitter import TrackingEmitter

T0 = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
DELIVERIES = 1_000
FIXES_PER_DELIVERY = 20


def airspace_or_none(wanted: bool) -> object | None:
    """The Zurich scenario's airspace, when asked."""
    if not wanted:
        return None
    from streams.processors.tracking_emitter import AirspaceInForce

    # Its own rules: ZONES has planned the inputs' routes, and remembers them.
    return AirspaceInForce(AirspaceRules(airspace_of(default_scenario(), T0)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-airspace", action="store_true")
    parser.add_argument("--deliveries", type=int, default=DELIVERIES)
    args = parser.parse_args()
    rng = random.Random(19)
    rules = airspace_or_none(not args.no_airspace)
    routed: dict[str, Any] = {} if rules is None else {"airspace": rules}  # older commits too
    processor = DeliveryProcessor.over_tables(
        DeliveryRepository({}, {}, {}), commands_topic="delivery-commands", **routed
    )
    tracking: TrackingEmitter = processor.tracking
    fixes: list[TelemetryReported] = []
    deliveries = args.deliveries
    for n in range(deliveries):
        delivery_id, drone_id = f"d{n}", f"drone-{n}"
        pickup = _outside_zones(rng, 47.35, 8.52, 0.04, 0.04)
        dropoff = _dropoff(rng, pickup, detour=n % 3 == 0)
        processor.repository.save_state(_state(delivery_id, drone_id, pickup, dropoff))
        path = ZONES.route(pickup, dropoff)  # the drone flies around the zones
        for k in range(FIXES_PER_DELIVERY):
            here = _along(path, k / FIXES_PER_DELIVERY)
            at = T0 + timedelta(seconds=k)
            fixes.append(
                TelemetryReported(
                    event_id=new_event_id(),
                    sequence=k + 1,
                    occurred_at=at,
                    recorded_at=at,
                    drone_id=drone_id,
                    lat=here.lat,
                    lon=here.lon,
                    altitude_m=60.0,
                    heading_deg=45.0,
                    ground_speed_mps=15.0,
                    battery_pct=80.0,
                    phase="to_dropoff",
                    delivery_id=delivery_id,
                )
            )
    fixes.sort(key=lambda fix: fix.occurred_at)
    warm = fixes[:deliveries]  # the first fix of each: where a route is planned, if at all
    started = timeit.default_timer()
    for fix in warm:
        tracking.on_fix(fix)
    first = (timeit.default_timer() - started) / deliveries
    steady = fixes[deliveries:]

    def one_pass() -> None:
        for fix in steady:
            tracking.on_fix(fix)

    best = min(timeit.repeat(one_pass, number=1, repeat=5))
    print(f"airspace: {'yes' if rules is not None else 'no'}")
    print(f"first fix of a delivery (plans its route): {first * 1e6:.0f} µs")
    print(f"fixes per pass: {len(steady)}; best of 5: {best * 1e6 / len(steady):.1f} µs per fix")


ZONES = AirspaceRules(airspace_of(default_scenario(), T0))


def _dropoff(rng: random.Random, pickup: GeoPoint, *, detour: bool) -> GeoPoint:
    """A drop-off outside every zone; behind one of them (seen from `pickup`) if `detour`."""
    while True:
        dropoff = _outside_zones(rng, 47.33, 8.47, 0.17, 0.2)
        if (len(ZONES.route(pickup, dropoff)) > 2) == detour:
            return dropoff


def _along(path: tuple[GeoPoint, ...], fraction: float) -> GeoPoint:
    """The point `fraction` of the way along `path` (lengths in degrees: a benchmark's)."""
    legs = [math.dist((a.lat, a.lon), (b.lat, b.lon)) for a, b in itertools.pairwise(path)]
    left = fraction * sum(legs)
    for (a, b), leg in zip(itertools.pairwise(path), legs, strict=True):
        if left <= leg and leg > 0:
            f = left / leg
            return GeoPoint(a.lat + (b.lat - a.lat) * f, a.lon + (b.lon - a.lon) * f)
        left -= leg
    return path[-1]


def _outside_zones(
    rng: random.Random, south: float, west: float, height: float, width: float
) -> GeoPoint:
    """A random point of the box that no zone contains (a zone's point has no route)."""
    while True:
        point = GeoPoint(south + rng.uniform(0, height), west + rng.uniform(0, width))
        if ZONES.zone_at(point) is None:
            return point


def _state(delivery_id: str, drone_id: str, pickup: GeoPoint, dropoff: GeoPoint) -> DeliveryState:
    """A delivery picked up by its drone, flying to the drop-off."""
    return DeliveryState(
        delivery_id=delivery_id,
        business_id="b1",
        status="picked_up",
        pickup=pickup,
        dropoff=dropoff,
        version=3,
        requested_at=T0,
        drone_id=drone_id,
    )


if __name__ == "__main__":
    main()
