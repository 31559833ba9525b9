"""The simulator's errors: every one the package raises on purpose derives from SimulatorError."""

from __future__ import annotations


class SimulatorError(Exception):
    """Base of the simulator's errors."""


class ScenarioError(SimulatorError):
    """A scenario file is missing, not TOML, or not a valid scenario; says where and why."""

    def __init__(self, source: str, problem: str) -> None:
        super().__init__(f"{source}: {problem}")
        self.source = source
        self.problem = problem
