"""How good were the ETAs? Prediction errors by lead time, from the tracking log. Pure.

Every `TrackingUpdated` is a prediction: at `occurred_at` the platform said the parcel
would arrive at `eta`. The delivery's final update (status `delivered`) says when it did.
For each prediction made about 1, 5 or 10 minutes before the arrival (within a window),
the error is `eta - arrival` in seconds (negative: promised too early). The report gives
the count, the median and the 90th percentile of the absolute error per lead time.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from contracts import TrackingUpdated

DEFAULT_LEADS_S = (60.0, 300.0, 600.0)


@dataclass(frozen=True, slots=True)
class LeadStats:
    """The error of the predictions made about `lead_s` before arrival."""

    lead_s: float
    count: int
    median_abs_error_s: float | None
    p90_abs_error_s: float | None
    median_error_s: float | None


def prediction_errors(updates: Iterable[TrackingUpdated]) -> list[tuple[float, float]]:
    """(lead seconds, error seconds) of every prediction of a delivery that arrived."""
    by_delivery: dict[str, list[TrackingUpdated]] = defaultdict(list)
    for update in updates:
        by_delivery[update.delivery_id].append(update)
    pairs: list[tuple[float, float]] = []
    for delivery_updates in by_delivery.values():
        arrival = _arrival(delivery_updates)
        if arrival is None:
            continue
        for update in delivery_updates:
            if update.status == "delivered" or update.eta is None:
                continue
            lead = (arrival - update.occurred_at).total_seconds()
            if lead > 0:
                pairs.append((lead, (update.eta - arrival).total_seconds()))
    return pairs


def summarize(
    errors: list[tuple[float, float]],
    leads_s: Iterable[float] = DEFAULT_LEADS_S,
    window_s: float = 30.0,
) -> list[LeadStats]:
    """Median and p90 absolute error of the predictions within `window_s` of each lead."""
    stats = []
    for lead in leads_s:
        chosen = np.array([error for at, error in errors if abs(at - lead) <= window_s])
        if chosen.size == 0:
            stats.append(LeadStats(lead, 0, None, None, None))
            continue
        absolute = np.abs(chosen)
        stats.append(
            LeadStats(
                lead_s=lead,
                count=int(chosen.size),
                median_abs_error_s=float(np.median(absolute)),
                p90_abs_error_s=float(np.percentile(absolute, 90)),
                median_error_s=float(np.median(chosen)),
            )
        )
    return stats


def _arrival(updates: list[TrackingUpdated]) -> datetime | None:
    for update in updates:
        if update.status == "delivered":
            return update.occurred_at
    return None
