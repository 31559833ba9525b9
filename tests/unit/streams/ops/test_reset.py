"""The reset's inputs, and that it runs without building (or importing) the worker."""

from __future__ import annotations

import subprocess
import sys

from streams.ops.reset import rebuild_inputs
from streams.settings import StreamsSettings


def test_every_group_of_a_worker_is_named_with_its_inputs_and_reset_leaves_the_gate_out() -> None:
    settings = StreamsSettings(topic_prefix="t-")
    inputs = {group: [t.name for t in topics] for group, topics in settings.group_inputs().items()}
    assert inputs == {
        "t-dronefleet-streams": ["t-dispatch"],
        "t-dronefleet-streams-gate": ["t-telemetry"],
        "t-dronefleet-streams-deliveries": [
            "t-deliveries",
            "t-delivery-commands",
            "t-delivery-telemetry",
        ],
    }
    assert settings.groups == list(inputs)
    assert list(rebuild_inputs(settings)) == [
        "t-dronefleet-streams",
        "t-dronefleet-streams-deliveries",
    ]


def test_the_reset_imports_no_faust() -> None:
    # import-linter forbids the import statically; this checks what actually loads.
    probe = "import sys, streams.ops.reset; print(sorted(m for m in sys.modules if m == 'faust'))"
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert loaded.strip() == "[]"
