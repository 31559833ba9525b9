"""The end-to-end tests' own stack, for the tests that break Kafka or PostgreSQL on purpose."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from loadtest.private_stack import PrivateStack, private_settings


@pytest.fixture(scope="session")
def private_stack() -> Iterator[PrivateStack]:
    """A Kafka and a PostgreSQL of this session's own, stopped and deleted at the end.

    Its own ports and home: the shared stack serves the other tests and must never be
    stopped.
    """
    stack = PrivateStack(private_settings())
    try:
        stack.up()
        yield stack
    finally:
        stack.down()
