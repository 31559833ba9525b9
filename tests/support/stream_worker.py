"""A real stream worker for integration tests: `python -m streams worker`, as production runs it.

A module-scoped pytest fixture: import `worker` into a test module (`# noqa: F401`) and
each module gets its own worker on that module's topics (the `topics` fixture's prefix).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from contracts import Topics
from devstack.services import PlatformConfig, RunningService, start_service
from devstack.settings import StackSettings


@pytest.fixture(scope="module")
def worker(running_stack: StackSettings, topics: Topics) -> Iterator[RunningService]:
    prefix = topics.prefix
    config = PlatformConfig(stack=running_stack, database="unused", topic_prefix=prefix)
    service = start_service(
        "streams", ["streams", "worker"], config, running_stack.home / "test-logs" / prefix
    )
    yield service
    service.stop()
    assert service.process.returncode in (0, -15), "the worker did not stop cleanly"
