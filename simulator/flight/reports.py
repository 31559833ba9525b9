"""What the engine reports: what a drone knows, in the words of a drone.

A drone knows that it has the parcel on board (`PickupDone`) and that it left it at
the drop-off (`DropoffDone`); it does not write the delivery's events, whose sequence
numbers only the delivery aggregate can give, so these two are the drone's own
records and `simulator.adapters.wire` turns each into its report (a command) to the
aggregate. What a drone says about itself is already a wire event of the contracts and
is built here as such: one `TelemetryReported` per fix and the fleet milestones
(`DroneMilestone`: battery low, aborted, returned, charged), in drone order. An
`aborted` milestone says which delivery was given up and why: the wire makes it both
a fleet event and the aggregate's `ReportAbort`.

Why the fixes are built in a module of their own: one `TelemetryReported` per drone
per step costs more than stepping the physics (BENCHMARKS.md, "engine"), so it is
done in bulk (one `tolist()` per field, one hex string for all ids) and measured
separately (`benchmarks/engine_bench.py`).
"""

from __future__ import annotations

from datetime import datetime

import msgspec
import numpy as np
import numpy.typing as npt

from contracts import AbortReason, DroneMilestone, MilestoneKind, TelemetryReported
from simulator.flight.phases import PHASES


class PickupDone(msgspec.Struct, frozen=True, kw_only=True):
    """The drone has the parcel of `delivery_id` on board: its dwell at the pickup ended."""

    report_id: str
    """From the engine's seeded generator: a replayed run reports with the same ids."""
    delivery_id: str
    drone_id: str
    at: datetime


class DropoffDone(msgspec.Struct, frozen=True, kw_only=True):
    """The parcel of `delivery_id` is at the drop-off: the drone's dwell there ended."""

    report_id: str
    """From the engine's seeded generator: a replayed run reports with the same ids."""
    delivery_id: str
    drone_id: str
    at: datetime


DroneReport = PickupDone | DropoffDone | DroneMilestone | TelemetryReported
"""Everything `FleetEngine.step` returns."""


class SeededIds:
    """UUID4-shaped hex ids drawn from a seeded numpy generator (reproducible).

    Both the events' ids and the drones' report ids (their commands' ids) come from it,
    so a replayed run sends the same ids.
    """

    def __init__(self, rng: np.random.Generator) -> None:
        self._rng = rng

    def take(self, count: int) -> list[str]:
        """`count` fresh ids."""
        if count == 0:
            return []
        raw = np.frombuffer(self._rng.bytes(16 * count), dtype=np.uint8).reshape(count, 16)
        raw = raw.copy()
        raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40  # version 4
        raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80  # RFC 4122 variant
        text = raw.tobytes().hex()
        return [text[i : i + 32] for i in range(0, 32 * count, 32)]

    def one(self) -> str:
        """One fresh id."""
        return self.take(1)[0]


def telemetry(
    now: datetime,
    ids: list[str],
    drone_ids: list[str],
    delivery_ids: list[str | None],
    sequence: npt.NDArray[np.int64],
    lat: npt.NDArray[np.float64],
    lon: npt.NDArray[np.float64],
    altitude_m: npt.NDArray[np.float64],
    ground_speed_mps: npt.NDArray[np.float64],
    heading_deg: npt.NDArray[np.float64],
    battery_pct: npt.NDArray[np.float64],
    phase: npt.NDArray[np.int8],
) -> list[TelemetryReported]:
    """One fix per drone, all stamped `now` (fix time and recording time)."""
    phases = [PHASES[code] for code in phase.tolist()]
    return [
        TelemetryReported(
            event_id=event_id,
            sequence=seq,
            occurred_at=now,
            recorded_at=now,
            drone_id=drone_id,
            delivery_id=delivery_id,
            lat=la,
            lon=lo,
            altitude_m=alt,
            ground_speed_mps=speed,
            heading_deg=heading,
            battery_pct=battery,
            phase=ph,
        )
        for event_id, seq, drone_id, delivery_id, la, lo, alt, speed, heading, battery, ph in zip(
            ids,
            sequence.tolist(),
            drone_ids,
            delivery_ids,
            lat.tolist(),
            lon.tolist(),
            altitude_m.tolist(),
            ground_speed_mps.tolist(),
            (np.round(heading_deg, 2) % 360.0).tolist(),
            np.round(battery_pct, 3).tolist(),
            phases,
            strict=True,
        )
    ]


def drone_milestone(
    now: datetime,
    event_id: str,
    sequence: int,
    drone_id: str,
    kind: MilestoneKind,
    lat: float,
    lon: float,
    battery_pct: float,
    *,
    delivery_id: str | None = None,
    reason: AbortReason | None = None,
) -> DroneMilestone:
    """One fleet milestone of a drone, stamped `now`."""
    return DroneMilestone(
        event_id=event_id,
        sequence=sequence,
        occurred_at=now,
        recorded_at=now,
        drone_id=drone_id,
        kind=kind,
        lat=lat,
        lon=lon,
        battery_pct=round(min(max(battery_pct, 0.0), 100.0), 3),
        delivery_id=delivery_id,
        reason=reason,
    )
