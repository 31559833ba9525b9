"""Shared fixtures: the real local stack, fresh topics and fresh databases per test module.

The stack is started through `devstack.stack.up`, the very code behind
`dronefleet stack up`. Each module that needs Kafka gets its own topic prefix and each
that needs PostgreSQL its own database, so modules never see each other's events.
A skipped test fails the run: a test that needs a missing service must fail, not skip.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from contracts import Topics
from devstack import stack
from devstack.postgres import PostgresNode
from devstack.settings import StackSettings
from projections.migrate import migrate

_skipped: list[str] = []


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test by its folder: unit, integration or e2e (tests/unit/ has subfolders)."""
    tests = Path(__file__).resolve().parent
    for item in items:
        kind = Path(str(item.fspath)).resolve().relative_to(tests).parts[0]
        if kind in ("unit", "integration", "e2e"):
            item.add_marker(getattr(pytest.mark, kind))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Remember skipped tests."""
    if report.skipped:
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run when any test was skipped."""
    if _skipped and exitstatus == 0:
        print(f"\n{len(_skipped)} test(s) skipped; skipping is a failure here: {_skipped}")
        session.exitstatus = 1


@pytest.fixture(scope="session")
def stack_settings() -> StackSettings:
    """The local stack's settings (DRONEFLEET_STACK_* may move its ports)."""
    return StackSettings()


@pytest.fixture(scope="session")
def running_stack(stack_settings: StackSettings) -> Iterator[StackSettings]:
    """Kafka and PostgreSQL up and healthy; stopped at the end if this run started them."""
    result = stack.up(stack_settings)
    yield stack_settings
    if (result.started_kafka or result.started_postgres) and not os.environ.get(
        "DRONEFLEET_KEEP_STACK"
    ):
        stack.down(stack_settings)


@pytest.fixture(scope="module")
def topics(running_stack: StackSettings) -> Topics:
    """This module's own topics, created on the real broker."""
    prefix = f"t{secrets.token_hex(4)}-"
    layout = Topics.with_prefix(prefix)
    stack.up(running_stack, layout)
    return layout


@pytest.fixture(scope="module")
def fresh_database(running_stack: StackSettings) -> Iterator[Callable[[], str]]:
    """A factory of migrated, empty databases, dropped at the end of the module."""
    node = PostgresNode(running_stack)
    created: list[str] = []

    def make() -> str:
        name = f"test_{secrets.token_hex(6)}"
        node.ensure_database(name)
        created.append(name)
        dsn = running_stack.dsn_for(name)
        migrate(dsn)
        return dsn

    yield make
    for name in created:
        node.drop_database(name)


@pytest.fixture(scope="module")
def database(fresh_database: Callable[[], str]) -> str:
    """One migrated database for the module."""
    return fresh_database()
