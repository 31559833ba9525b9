"""The quotes of issue 19's platform runs, counted again with this session's quote model.

Read-only. For each delivery picked up within 15 minutes of its request and delivered
(the table's rule), the logged quote gives back its distances: the old model quoted the
flight to the pickup as 27 s + m / 15 (climb, descent, cruise) and the rest as
20 s + 27 s + c / 15 (two dwells); m and c are counted again with the speeding up and
braking, the pre-flight term and a wind allowance, and compared with the events'
PickedUp and Delivered. The pickup's error is against PickedUp, as the table's is: it
includes the 10 s dwell the quote's `pickup_eta` (landing) does not.
`.venv/bin/python benchmarks/results/eta-issue19/requote.py eta0dc40a- eta1fe443- etabfd5b4-`
"""

from __future__ import annotations

import asyncio
import statistics
import sys
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from eta_accuracy_run import QUOTE_PICKED_UP_WITHIN_S, quotes_from_log, read_events  # noqa: E402

from api.quote import PREFLIGHT_S, wind_slowdown  # noqa: E402
from contracts import Delivered, DeliveryRequested, PickedUp, Topics  # noqa: E402
from contracts.eta import FlightProfile  # noqa: E402
from devstack.settings import StackSettings  # noqa: E402

OLD_LEG_FIXED_S = 60.0 / 5.0 + 60.0 / 4.0


def main(prefixes: list[str]) -> None:
    bootstrap = StackSettings().kafka_bootstrap
    profile = FlightProfile()
    rows: list[tuple[float, float, float, float]] = []
    for prefix in prefixes:
        quotes = quotes_from_log(ROOT / ".stack" / "bench-logs" / prefix / "api.log")
        deliveries = Topics.with_prefix(prefix).deliveries
        events = asyncio.run(read_events(bootstrap, deliveries.name, deliveries.partitions))
        requested: dict[str, datetime] = {}
        picked: dict[str, datetime] = {}
        delivered: dict[str, datetime] = {}
        for event in events:
            if isinstance(event, DeliveryRequested):
                requested.setdefault(event.delivery_id, event.recorded_at)
            elif isinstance(event, PickedUp):
                picked.setdefault(event.delivery_id, event.occurred_at)
            elif isinstance(event, Delivered):
                delivered.setdefault(event.delivery_id, event.occurred_at)
        for delivery_id, (pickup_at, dropoff_at) in quotes.items():
            asked = requested.get(delivery_id)
            got, arrived = picked.get(delivery_id), delivered.get(delivery_id)
            if asked is None or got is None or arrived is None:
                continue
            if (got - asked).total_seconds() > QUOTE_PICKED_UP_WITHIN_S:
                continue
            rows.append(
                (
                    (pickup_at - asked).total_seconds(),
                    (dropoff_at - pickup_at).total_seconds(),
                    (got - asked).total_seconds(),
                    (arrived - asked).total_seconds(),
                )
            )
    print("deliveries", len(rows))
    for wind in (0.0, 3.0, 4.0):
        slowdown = wind_slowdown(wind, profile.cruise_speed_mps)

        def leg_s(metres: float, slowdown: float = slowdown) -> float:
            return profile.leg_s(metres, metres * slowdown / profile.cruise_speed_mps)

        old, drop, pick = [], [], []
        for to_pickup_s, rest_s, got_s, arrived_s in rows:
            to_pickup_m = (to_pickup_s - OLD_LEG_FIXED_S) * 15.0
            carry_m = (rest_s - 20.0 - OLD_LEG_FIXED_S) * 15.0
            new_pickup_s = PREFLIGHT_S + leg_s(to_pickup_m)
            new_dropoff_s = new_pickup_s + 20.0 + leg_s(carry_m)
            old.append(to_pickup_s + rest_s - arrived_s)
            drop.append(new_dropoff_s - arrived_s)
            pick.append(new_pickup_s - got_s)
        print(
            f"wind allowance {wind} m/s: drop-off signed median {statistics.median(old):+.1f} s"
            f" (as quoted) -> {statistics.median(drop):+.1f} s, median abs"
            f" {statistics.median(abs(e) for e in old):.1f} -> "
            f"{statistics.median(abs(e) for e in drop):.1f} s; pickup (against PickedUp)"
            f" signed median {statistics.median(pick):+.1f} s"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
