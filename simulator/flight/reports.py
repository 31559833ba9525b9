"""Turning the fleet's arrays into events: ids from the seeded generator, then structs.

Why a module of its own: building one `TelemetryReported` per drone per step costs more
than stepping the physics (BENCHMARKS.md, "engine"), so it is kept apart, done in bulk
(one `tolist()` per field, one hex string for all ids) and measured separately.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import numpy.typing as npt

from contracts import AbortReason, DroneMilestone, DronePhase, MilestoneKind, TelemetryReported

PHASES: tuple[DronePhase, ...] = (
    "idle",
    "to_pickup",
    "at_pickup",
    "to_dropoff",
    "at_dropoff",
    "returning",
)
"""Phase codes of the engine's `phase` array: the index into this tuple."""


class EventIds:
    """UUID4-shaped hex ids drawn from a seeded numpy generator (reproducible)."""

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
