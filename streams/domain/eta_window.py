"""The ETA's window: earliest and latest arrival, learned from the platform's own errors.

Issue 19 (4): a customer plans by a window, not a point. The window of an ETA given
with a lead L (the time it says is left) is [ETA - q90, ETA - q10], where q10 and q90
are the 10th and 90th percentiles of the errors (ETA minus the actual arrival; negative:
promised too early) of past ETAs given with a similar lead. If the future errs like the
past, 80 % of arrivals fall inside it: the issue's goal is 80 % (± 5 %).

What is learned, and how much is kept:

- Every ETA given is a candidate, sampled at most once per delivery per `SAMPLE_EVERY_S`
  of lead (the first one given in each 10 s slot of lead, leads up to
  `MAX_SAMPLED_LEAD_S`), so a delivery weighs by how long it was tracked, like the
  accuracy table's rows, and not by how often it was updated. The samples wait in
  memory until the delivery arrives: O(deliveries in flight), at most `tracked` of
  them (the oldest is forgotten beyond: lost, or moved to another worker).
- On arrival each sample becomes an error relative to its lead,
  error / (lead + `SCALE_FLOOR_S`), filed in its lead band (`LEAD_BANDS_S`); a band
  keeps the errors of its latest arrivals, at most `kept` errors. Relative, so that the
  percentiles of a band that spans 2 to 7 minutes of lead scale with the lead inside it.
- The percentiles are blended with a prior, weighted by the arrivals the band has
  learned from: q = (k * prior + a * learned) / (k + a), k = `PRIOR_ARRIVALS`. Counted
  in arrivals, not errors, because one delivery's errors are strongly correlated: 30
  samples of one flight say little more than one.
- A cancelled or failed delivery teaches nothing and is forgotten; a rescheduled one
  keeps its samples, and its late arrival counts against the ETAs given before the
  reschedule, as `eta_accuracy_view` and the accuracy run count them.

The prior (`prior_bounds`) is the error measured in-process after the ETA counted the
drones' speeding up and braking (commit b32dc90; benchmarks/results/eta-issue19/
inprocess-bias-after.txt, `eta_route_accuracy.py --wind --missions 150`, seeds 19-21):
no bias left (signed medians -0.1 to +0.2 s at 1 and 5 minutes, -5 to +4 s at 10);
median absolute error 0.3 s at 1 minute (p90 0.5-0.9 s), 4.2-5.6 s at 5 (p90 8.5-16 s),
10-15 s at 10 (p90 23-40 s). Read as a Laplace spread b (median abs = b ln 2; the 80 %
interval is ± b ln 5): about ± 0.7 s at 1 minute, ± 11 s at 5 and ± 24 s at 10, so
± (4.2 % of the lead - 1.6 s), at least 0.7 s, centred on the ETA. With it, in the same
runs (window learned as the run goes), 69-94 % of arrivals fall inside, by lead row and
seed (1 min 81-86 %, 5 min 69-77 %, 10 min 70-85 %, 15 min 85-94 %).

Pure: no I/O and no clock; the stream worker holds one per process, beside the wind
estimator. A restarted (or rebalanced) worker starts again from the prior and the
arrivals it sees; the deliveries in flight at the restart teach it nothing of the
samples they gave before it. The windows already sent are in the log
(`TrackingUpdated.eta_earliest`, `eta_latest`) and do not change.
"""

from __future__ import annotations

import bisect
from array import array
from collections import OrderedDict, deque
from datetime import datetime, timedelta

from contracts import FINAL_STATUSES, TrackingUpdated

LEAD_BANDS_S = (30.0, 90.0, 210.0, 450.0, 750.0, 1050.0)
"""Band edges in seconds of lead: the last half minute, about 1, 2-3, 5, 10 and 15
minutes (the accuracy table's rows), and beyond."""
SAMPLE_EVERY_S = 10.0
"""At most one sampled ETA per delivery per this much lead."""
MAX_SAMPLED_LEAD_S = 3600.0
"""ETAs given further ahead are not sampled (bounds a delivery's samples to 361)."""
SCALE_FLOOR_S = 15.0
"""Errors are kept relative to (lead + this): near arrival the error does not go to
zero with the lead (braking onto the stop takes about 2 s)."""
PRIOR_ARRIVALS = 3.0
"""The prior's weight, in arrivals: after 3 arrivals in a band, half learned."""
QUANTILES = (0.1, 0.9)
"""The window's percentiles of the error: 80 % of arrivals inside."""


def band(lead_s: float) -> int:
    """The lead band's index of a lead in seconds."""
    return bisect.bisect_right(LEAD_BANDS_S, lead_s)


def prior_bounds(lead_s: float) -> tuple[float, float]:
    """The (q10, q90) of the error in seconds before anything is learned (module doc)."""
    half = max(0.7, 0.042 * lead_s - 1.6)
    return -half, half


def quantile(ordered: list[float], q: float) -> float:
    """The q-quantile of sorted values, linearly interpolated (numpy's default)."""
    position = q * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


class _Band:
    """The relative errors of a lead band's latest arrivals, and their percentiles."""

    def __init__(self, kept: int) -> None:
        self.kept = kept
        self.arrivals: deque[array[float]] = deque()
        self.count = 0
        self.bounds: tuple[float, float] | None = None

    def learn(self, errors: array[float]) -> None:
        self.arrivals.append(errors)
        self.count += len(errors)
        while self.count > self.kept and len(self.arrivals) > 1:
            self.count -= len(self.arrivals.popleft())
        ordered = sorted(error for arrival in self.arrivals for error in arrival)
        self.bounds = (quantile(ordered, QUANTILES[0]), quantile(ordered, QUANTILES[1]))


class EtaWindow:
    """Learns the ETA's error by lead and gives each ETA its window (module doc)."""

    def __init__(self, kept: int = 1000, tracked: int = 100_000) -> None:
        self.tracked = tracked
        self._bands = [_Band(kept) for _ in range(len(LEAD_BANDS_S) + 1)]
        self._samples: OrderedDict[str, tuple[int, array[float]]] = OrderedDict()
        """Per delivery in flight: the lowest lead slot sampled, and (lead s, ETA as a
        POSIX timestamp) pairs flattened."""

    def observe(self, update: TrackingUpdated) -> None:
        """Sample an update's ETA; on arrival, learn the errors of the delivery's samples."""
        if update.status in FINAL_STATUSES:
            samples = self._samples.pop(update.delivery_id, None)
            if update.status == "delivered" and samples is not None:
                self._learn(samples[1], update.occurred_at.timestamp())
            return
        if update.eta is None:
            return
        lead_s = (update.eta - update.occurred_at).total_seconds()
        if not 0.0 <= lead_s <= MAX_SAMPLED_LEAD_S:
            return
        slot = int(lead_s // SAMPLE_EVERY_S)
        kept = self._samples.get(update.delivery_id)
        if kept is None:
            kept = (slot, array("d"))
            self._samples[update.delivery_id] = kept
            if len(self._samples) > self.tracked:
                self._samples.popitem(last=False)  # the oldest: lost, or ended elsewhere
        elif slot >= kept[0]:
            return  # this slot or a later one is sampled already (a delay moves the lead up)
        else:
            self._samples[update.delivery_id] = kept = (slot, kept[1])
        kept[1].extend((lead_s, update.eta.timestamp()))

    def _learn(self, samples: array[float], arrived_at: float) -> None:
        by_band: dict[int, array[float]] = {}
        for index in range(0, len(samples), 2):
            lead_s, eta = samples[index], samples[index + 1]
            relative = (eta - arrived_at) / (lead_s + SCALE_FLOOR_S)
            by_band.setdefault(band(lead_s), array("d")).append(relative)
        for index, errors in by_band.items():
            self._bands[index].learn(errors)

    def bounds(self, lead_s: float) -> tuple[float, float]:
        """The (q10, q90) of the error in seconds at this lead.

        The prior's and the band's learned ones, blended by the arrivals learned from.
        """
        prior_low, prior_high = prior_bounds(lead_s)
        learned = self._bands[band(lead_s)]
        if learned.bounds is None:
            return prior_low, prior_high
        arrivals = len(learned.arrivals)
        weight = arrivals / (arrivals + PRIOR_ARRIVALS)
        scale = lead_s + SCALE_FLOOR_S
        low, high = (bound * scale for bound in learned.bounds)
        return (
            (1.0 - weight) * prior_low + weight * low,
            (1.0 - weight) * prior_high + weight * high,
        )

    def window(
        self, eta: datetime | None, observed_at: datetime
    ) -> tuple[datetime, datetime] | None:
        """Earliest and latest arrival for an ETA given at `observed_at`; None without one.

        Never inverted, never earlier than `observed_at` (the drone cannot arrive in the
        past), and containing the ETA whenever the errors it rests on straddle zero.
        """
        if eta is None:
            return None
        lead_s = max((eta - observed_at).total_seconds(), 0.0)
        low, high = self.bounds(lead_s)
        earliest = max(eta - timedelta(seconds=high), observed_at)
        latest = max(eta - timedelta(seconds=low), earliest)
        return earliest, latest

    def learned(self) -> list[int]:
        """How many arrivals each band has learned from (for tests and metrics)."""
        return [len(learned.arrivals) for learned in self._bands]

    def in_flight(self) -> int:
        """How many deliveries have samples waiting for their arrival."""
        return len(self._samples)
