"""The drone's phases: the names are the contracts' `DronePhase`, the engine's codes their index.

Why derived: telemetry carries the phase by name, and the ETA downstream reads the
phases left from it, so the engine may not know a phase the contracts do not, nor
miss one they add. The engine keeps one `int8` array of codes over the fleet (a name
per drone would cost a Python object each), and `simulator.flight.reports` turns the
codes back into names with `PHASES[code]`.

How a drone moves within a leg (on the ground, climbing, cruising, descending) is the
engine's own business, not a phase: see `simulator.flight.engine`'s stages.
"""

from __future__ import annotations

from typing import Final, get_args

from contracts import DronePhase

PHASES: Final[tuple[DronePhase, ...]] = get_args(DronePhase)
"""Every phase, in the order of the contracts' `DronePhase`; a code indexes this tuple."""

PHASE_CODE: Final[dict[DronePhase, int]] = {name: code for code, name in enumerate(PHASES)}
"""The engine's code of each phase."""

IDLE: Final = PHASE_CODE["idle"]
"""On the ground at a depot, charging, without a mission."""
TO_PICKUP: Final = PHASE_CODE["to_pickup"]
AT_PICKUP: Final = PHASE_CODE["at_pickup"]
TO_DROPOFF: Final = PHASE_CODE["to_dropoff"]
AT_DROPOFF: Final = PHASE_CODE["at_dropoff"]
RETURNING: Final = PHASE_CODE["returning"]
"""On the way to a depot: after the drop-off, or giving a mission up."""
