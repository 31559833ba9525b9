"""The ETA's window (`api.eta_window`, issue 19 part 4): learned from the platform's own
errors by lead band, 80 % of arrivals inside it when the future errs like the past."""

from __future__ import annotations

import json
import random
from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from api.eta_window import DEFAULT_SPREAD, EtaBands, band
from api.hub import TrackingHub
from api.routes.tracking import message
from tests.support.factories import T0, tracking


def fly(bands: EtaBands, delivery_id: str, lead_s: float, error_s: float) -> None:
    """A delivery given one ETA `lead_s` ahead that turned out `error_s` late (+: early)."""
    promised = tracking(delivery_id, 1, T0, eta_in=timedelta(seconds=lead_s))
    bands.observe(promised)
    assert promised.eta is not None
    arrived = promised.eta - timedelta(seconds=error_s)
    bands.observe(tracking(delivery_id, 2, arrived, status="delivered", eta_in=None))


def test_an_unlearned_band_has_the_wide_default_window() -> None:
    bands = EtaBands()
    eta = T0 + timedelta(seconds=300)
    earliest, latest = bands.window(eta, T0) or (None, None)
    spread = timedelta(seconds=DEFAULT_SPREAD[0] + DEFAULT_SPREAD[1] * 300)
    assert earliest == eta - spread and latest == eta + spread
    assert bands.window(None, T0) is None


def test_the_window_is_the_10th_to_90th_percentile_of_the_band_s_errors() -> None:
    bands = EtaBands(min_errors=30)
    for n in range(100):  # errors -49 .. +50 s at a 5-minute lead
        fly(bands, f"d{n}", 300.0, float(n - 49))
    assert bands.learned()[band(300.0)] == 100
    eta = T0 + timedelta(seconds=290)
    earliest, latest = bands.window(eta, T0) or (None, None)
    assert earliest == eta - timedelta(seconds=40) and latest == eta + timedelta(seconds=39)
    # Another band learned nothing: still the default.
    far = T0 + timedelta(seconds=900)
    assert bands.window(far, T0) == (far - timedelta(seconds=145), far + timedelta(seconds=145))


def test_about_80_percent_of_arrivals_fall_inside_a_learned_window() -> None:
    rng = random.Random(19)
    bands = EtaBands(kept=500)
    for n in range(500):
        fly(bands, f"learn{n}", 600.0, rng.gauss(5.0, 20.0))
    inside = 0
    for _ in range(2_000):
        eta = T0 + timedelta(seconds=600)
        arrival = eta - timedelta(seconds=rng.gauss(5.0, 20.0))
        earliest, latest = bands.window(eta, T0) or (eta, eta)
        inside += earliest <= arrival <= latest
    assert 0.75 <= inside / 2_000 <= 0.85


def test_only_the_first_eta_per_band_counts_and_ended_deliveries_are_forgotten() -> None:
    bands = EtaBands(min_errors=1)
    bands.observe(tracking("d1", 1, T0, eta_in=timedelta(seconds=300)))
    bands.observe(tracking("d1", 2, T0 + timedelta(seconds=5), eta_in=timedelta(seconds=296)))
    bands.observe(tracking("d2", 1, T0, eta_in=timedelta(seconds=300)))
    bands.observe(tracking("d2", 2, T0, status="cancelled", eta_in=None))
    arrival = T0 + timedelta(seconds=300)
    bands.observe(tracking("d1", 3, arrival, status="delivered", eta_in=None))
    assert bands.learned()[band(300.0)] == 1  # d1's first 5-minute ETA; d2 never arrived


@given(lead=st.floats(0, 3_600), error=st.floats(-600, 600))
def test_the_window_never_starts_before_its_fix_nor_ends_before_it_starts(
    lead: float, error: float
) -> None:
    bands = EtaBands(min_errors=1)
    for n in range(10):
        fly(bands, f"d{n}", lead, error)
    eta = T0 + timedelta(seconds=lead)
    earliest, latest = bands.window(eta, T0) or (None, None)
    assert earliest is not None and latest is not None
    assert T0 <= earliest <= latest


def test_the_hub_learns_from_every_update_it_publishes() -> None:
    hub = TrackingHub()
    hub.publish(tracking("d1", 1, T0, eta_in=timedelta(seconds=60)))
    hub.publish(tracking("d1", 2, T0 + timedelta(seconds=58), status="delivered", eta_in=None))
    assert hub.bands.learned()[band(60.0)] == 1


def test_the_socket_s_update_carries_the_window() -> None:
    update = tracking("d1", 1, T0, eta_in=timedelta(seconds=300))
    window = EtaBands().window(update.eta, update.occurred_at)
    sent = json.loads(message("update", update, window))
    assert sent["eta_earliest"] < sent["eta"] < sent["eta_latest"]
    assert json.loads(message("update", update))["eta_earliest"] is None
