"""An admin client that is always closed: `async with admin_client(bootstrap) as admin`.

Why a helper: every operator tool, the stack and the benchmarks ask Kafka's admin API a
question or two (list, create, delete, describe topics; a group's offsets) and must close
the client even when the question fails, or its connections and background tasks outlive
the call (an asyncio warning at best, a leaked socket per call in a watchdog loop).
Written out, that is six lines of start/try/finally around the one line that matters.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from kafkaio.connection import Broker, aiokafka_options

DEFAULT_REQUEST_TIMEOUT_MS = 40_000
"""aiokafka's own default: long enough for a broker that is just starting."""


@contextlib.asynccontextmanager
async def admin_client(
    bootstrap: Broker, request_timeout_ms: int = DEFAULT_REQUEST_TIMEOUT_MS
) -> AsyncIterator[AIOKafkaAdminClient]:
    """A started admin client for `bootstrap`, closed when the block ends (or raises).

    `request_timeout_ms` bounds each request: a health probe or a dashboard panel passes
    a few seconds so that an absent broker is an answer, not a 40 s hang.
    """
    admin = AIOKafkaAdminClient(
        **aiokafka_options(bootstrap), request_timeout_ms=request_timeout_ms
    )
    await admin.start()
    try:
        yield admin
    finally:
        await admin.close()


async def create_missing_topics(
    admin: AIOKafkaAdminClient, topics: Sequence[NewTopic]
) -> list[str]:
    """Create those of `topics` the broker does not list yet; return their names, in order.

    Idempotent, so every starter may call it: another process (a second worker, a
    second `stack up`) creating the same topics at the same moment reaches the goal too,
    and its "already exists" is not an error here.
    """
    existing = set(await admin.list_topics())
    missing = [topic for topic in topics if topic.name not in existing]
    if missing:
        with contextlib.suppress(TopicAlreadyExistsError):
            await admin.create_topics(missing)
    return [topic.name for topic in missing]
