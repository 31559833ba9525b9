"""Retention of the notifier's outbox: delivered messages and their attempts are deleted.

Every message and attempt is kept for the business to read (`/attempts`, `/messages`) for
`retention_s` after its delivery (default 7 days), then deleted, so the outbox does not
grow with every delivery ever made. Only delivered messages go: a pending one (waiting,
or behind a paused endpoint), a dead letter (the business may still ask to redeliver it)
and a dropped one are never touched, nor are their attempts.

Bounded: at most `retention_batch` messages per statement, statement after statement
until fewer are left, with a pause between them, so a first run on a large outbox does
not hold locks or the pool for long; then it waits `retention_interval_s`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from notifier.settings import NotifierSettings
from notifier.store import Store

log = logging.getLogger(__name__)


async def retain(settings: NotifierSettings, store: Store, stopping: asyncio.Event) -> None:
    """Delete what is past retention, then again every interval, until `stopping` is set."""
    while not stopping.is_set():
        try:
            messages = attempts = 0
            while not stopping.is_set():
                batch = await store.purge_delivered(settings.retention_s, settings.retention_batch)
                messages += batch[0]
                attempts += batch[1]
                if batch[0] < settings.retention_batch:
                    break
                await asyncio.sleep(0.05)  # let the posts' records in between
            if messages:
                log.info(
                    "retention: deleted %d delivered messages and %d attempts older than %.0f s",
                    messages,
                    attempts,
                    settings.retention_s,
                )
        except Exception:  # the database away: the next round tries again
            log.exception("retention failed; trying again in %.0f s", settings.retention_interval_s)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), settings.retention_interval_s)
