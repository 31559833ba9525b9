"""The ETA's window: earliest and latest arrival, learned from the platform's own errors.

Issue 19 (4): a customer plans by a window, not a point. The window of an ETA given with
a lead of L (the time it says is left) is [ETA - p90, ETA - p10] of the errors (ETA minus
the actual arrival) of past ETAs given with a similar lead: 80 % of arrivals should fall
inside it, if the future errs like the past.

Learned where the updates already pass, in-process: every API process consumes every
tracking update for its sockets (`api.hub.TrackingHub.publish`), so it remembers each
delivery's first ETA in each lead band and, when the delivery's `delivered` update
comes, adds their errors to that band's last `kept` errors. O(1) per update and a few
floats per delivery in flight; nothing read from the database, and every replica learns
the same from the same log. Until a band has `min_errors`, its window is a default one,
wide on purpose (`DEFAULT_SPREAD`): a promise that is not yet learned says so by its
width rather than by being missing.
"""

from __future__ import annotations

import bisect
from collections import OrderedDict, deque
from datetime import datetime, timedelta

from contracts import FINAL_STATUSES, TrackingUpdated

LEAD_BANDS_S = (150.0, 450.0, 750.0, 1050.0)
"""Band edges in seconds of lead: about 1, 5, 10, 15 minutes and beyond (the accuracy
table's rows)."""
DEFAULT_SPREAD = (10.0, 0.15)
"""The unlearned window: ± (10 s + 15 % of the lead)."""


def band(lead_s: float) -> int:
    """The lead band's index of a lead in seconds."""
    return bisect.bisect_right(LEAD_BANDS_S, lead_s)


class EtaBands:
    """The 10th and 90th percentile of recent ETA errors by lead band, learned as they come."""

    def __init__(self, kept: int = 500, min_errors: int = 30, tracked: int = 100_000) -> None:
        self.min_errors = min_errors
        self.tracked = tracked
        self._errors = [deque[float](maxlen=kept) for _ in range(len(LEAD_BANDS_S) + 1)]
        self._bounds: list[tuple[float, float] | None] = [None] * (len(LEAD_BANDS_S) + 1)
        self._first: OrderedDict[str, dict[int, datetime]] = OrderedDict()

    def observe(self, update: TrackingUpdated) -> None:
        """Remember a delivery's first ETA per band; on arrival, learn their errors."""
        if update.status == "delivered":
            for index, eta in self._first.pop(update.delivery_id, {}).items():
                self._learn(index, (eta - update.occurred_at).total_seconds())
            return
        if update.status in FINAL_STATUSES or update.eta is None:
            if update.status in FINAL_STATUSES:
                self._first.pop(update.delivery_id, None)
            return
        index = band((update.eta - update.occurred_at).total_seconds())
        firsts = self._first.get(update.delivery_id)
        if firsts is None:
            firsts = self._first[update.delivery_id] = {}
            if len(self._first) > self.tracked:
                self._first.popitem(last=False)  # the oldest: lost or never ended here
        firsts.setdefault(index, update.eta)

    def _learn(self, index: int, error_s: float) -> None:
        errors = self._errors[index]
        errors.append(error_s)
        if len(errors) >= self.min_errors and len(errors) % 10 == 0:
            ordered = sorted(errors)
            last = len(ordered) - 1
            self._bounds[index] = (ordered[round(0.1 * last)], ordered[round(0.9 * last)])

    def window(
        self, eta: datetime | None, observed_at: datetime
    ) -> tuple[datetime, datetime] | None:
        """Earliest and latest arrival for an ETA given at `observed_at`; None without one."""
        if eta is None:
            return None
        lead_s = max((eta - observed_at).total_seconds(), 0.0)
        bounds = self._bounds[band(lead_s)]
        if bounds is None:
            spread = DEFAULT_SPREAD[0] + DEFAULT_SPREAD[1] * lead_s
            bounds = (-spread, spread)
        p10, p90 = bounds
        earliest = max(eta - timedelta(seconds=p90), observed_at)
        latest = max(eta - timedelta(seconds=p10), earliest)
        return earliest, latest

    def learned(self) -> list[int]:
        """How many errors each band holds (for tests and metrics)."""
        return [len(errors) for errors in self._errors]
