"""Small pure reshapes of query results into what a panel shows (no I/O, no Streamlit)."""

from __future__ import annotations

from datetime import datetime

import pandas as pd

PHASE_ORDER = ["idle", "to_pickup", "at_pickup", "to_dropoff", "at_dropoff", "returning"]
BATTERY_BANDS = [(0.0, 20.0, "< 20 %"), (20.0, 50.0, "20-50 %"), (50.0, 80.0, "50-80 %")]
BATTERY_FULL = "≥ 80 %"


def drones_by_state(fleet: pd.DataFrame) -> pd.DataFrame:
    """How many drones are in each phase (every phase listed, zeros included)."""
    counts = fleet["phase"].value_counts()
    phases = PHASE_ORDER + sorted(set(counts.index) - set(PHASE_ORDER))
    return pd.DataFrame({"state": phases, "drones": [int(counts.get(p, 0)) for p in phases]})


def battery_band(pct: float) -> str:
    """The band of a battery level."""
    for low, high, label in BATTERY_BANDS:
        if low <= pct < high:
            return label
    return BATTERY_FULL


def drones_by_battery(fleet: pd.DataFrame) -> pd.DataFrame:
    """How many drones are in each battery band, lowest first."""
    labels = [label for _, _, label in BATTERY_BANDS] + [BATTERY_FULL]
    bands = [battery_band(float(pct)) for pct in fleet["battery_pct"]]
    return pd.DataFrame({"battery": labels, "drones": [bands.count(label) for label in labels]})


def with_minutes_left(in_flight: pd.DataFrame, now: datetime) -> pd.DataFrame:
    """The in-flight table with the minutes left until each ETA (NaN without an ETA)."""
    eta = pd.to_datetime(in_flight["latest_eta"], utc=True)
    left = (eta - pd.Timestamp(now)).dt.total_seconds() / 60.0
    return in_flight.assign(minutes_left=left.round(1))


def seconds_left_over_time(track: pd.DataFrame) -> pd.DataFrame:
    """A delivery's ETA over time: seconds left (ETA - fix time) at each tracking update."""
    with_eta = track.dropna(subset=["eta"])
    observed = pd.to_datetime(with_eta["observed_at"], utc=True)
    eta = pd.to_datetime(with_eta["eta"], utc=True)
    return pd.DataFrame(
        {"observed_at": observed, "seconds_left": (eta - observed).dt.total_seconds()}
    ).set_index("observed_at")
