"""The engine's phase codes: derived from the contracts' `DronePhase`, nothing listed twice."""

from __future__ import annotations

from datetime import timedelta

import numpy as np

from contracts import TelemetryReported
from simulator.flight.engine import CLIMB
from simulator.flight.phases import PHASE_CODE, PHASES
from tests.support.factories import T0
from tests.support.flight import fleet


def test_every_code_reports_its_phase_by_name() -> None:
    engine = fleet(len(PHASES), seed=1)
    engine.phase[:] = [PHASE_CODE[name] for name in PHASES]
    engine.stage[:] = CLIMB  # taking off: no drone dwells, lands or charges this step
    fixes = [
        r for r in engine.step(T0 + timedelta(seconds=1), 0.01) if isinstance(r, TelemetryReported)
    ]
    assert [f.phase for f in fixes] == list(PHASES)
    assert max(PHASE_CODE.values()) <= np.iinfo(engine.phase.dtype).max
