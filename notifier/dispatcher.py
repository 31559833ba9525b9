"""Posts the outbox: due messages, a few at a time per endpoint, each delivery in order.

Order per delivery and endpoint: only the oldest undelivered message of an (endpoint,
delivery) is ever due (`Store.due`), and one of them is in flight at a time, so message
n+1 is posted only after message n was delivered. Isolation: at most
`per_endpoint_concurrency` posts are in flight to one endpoint (one while it is being
probed after a pause), and the loop never awaits a post, so a receiver that hangs for
the whole timeout holds its own slots and nothing else.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from datetime import UTC, datetime

from contracts.webhooks import endpoint_secret
from notifier.attempts import Outcome
from notifier.backoff import retry_delay_s
from notifier.metrics import NotifierMetrics
from notifier.sender import Sender
from notifier.settings import NotifierSettings
from notifier.store import Due, Store

log = logging.getLogger(__name__)


class Dispatcher:
    """The posting loop; `wake()` when new messages are in the outbox."""

    def __init__(
        self, settings: NotifierSettings, store: Store, sender: Sender, metrics: NotifierMetrics
    ) -> None:
        self.settings = settings
        self.store = store
        self.sender = sender
        self.metrics = metrics
        self._signing_key = settings.signing_key.get_secret_value()
        self._woken = asyncio.Event()
        self._in_flight: set[tuple[str, str]] = set()
        self._per_endpoint: Counter[str] = Counter()
        self._tasks: set[asyncio.Task[None]] = set()
        self._finished_during_read: set[str] = set()
        """Messages whose attempt ended while the outbox was being read: the read may show
        them as still due (a delivered one would be posted twice), so this round skips them."""

    def wake(self) -> None:
        """Look for due messages now rather than at the next poll."""
        self._woken.set()

    async def run(self, stopping: asyncio.Event) -> None:
        """Start the posts that are due, round after round, until `stopping` is set."""
        try:
            while not stopping.is_set():
                try:
                    self._finished_during_read.clear()
                    due = await self.store.due(self.settings.per_endpoint_concurrency * 4)
                    self._start_due(due)
                except Exception:  # the database away: log, wait, try again
                    log.exception("reading the outbox failed; retrying")
                    await asyncio.sleep(self.settings.reconnect_max_delay_s)
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._woken.wait(), self.settings.poll_interval_s)
                self._woken.clear()
        finally:
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def _start_due(self, due: list[Due]) -> None:
        for message in due:
            if len(self._tasks) >= self.settings.max_in_flight:
                return
            key = (message.endpoint_id, message.delivery_id)
            limit = self.settings.per_endpoint_concurrency
            if message.endpoint_failures >= self.settings.pause_after_failures:
                limit = 1  # a paused endpoint's probe: one try at a time
            if key in self._in_flight or self._per_endpoint[message.endpoint_id] >= limit:
                continue
            if message.message_id in self._finished_during_read:
                continue
            self._in_flight.add(key)
            self._per_endpoint[message.endpoint_id] += 1
            task = asyncio.create_task(self._attempt(message))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _attempt(self, message: Due) -> None:
        key = (message.endpoint_id, message.delivery_id)
        try:
            attempted_at = datetime.now(UTC)
            secrets = signing_secrets(self._signing_key, message, attempted_at)
            outcome = await self.sender.post(message.url, secrets, message.message_id, message.body)
            retry_in = None
            if not outcome.delivered:
                retry_in = retry_delay_s(
                    self.settings.retry_schedule_s,
                    message.failures + 1,
                    self.settings.retry_jitter,
                )
            self.metrics.attempts.labels(outcome.kind).inc()
            self.metrics.latency.observe(outcome.latency_ms / 1000.0)
            if not outcome.delivered and retry_in is None:
                self.metrics.dead_lettered.inc()
            log_attempt(message, outcome, retry_in)
            await self._record(message, outcome, attempted_at, retry_in)
        finally:
            self._finished_during_read.add(message.message_id)
            self._in_flight.discard(key)
            self._per_endpoint[message.endpoint_id] -= 1
            self.wake()

    async def _record(
        self, message: Due, outcome: Outcome, at: datetime, retry: float | None
    ) -> None:
        """Write the attempt, retrying while the database is away.

        Not written, the message would be posted again: at least once, but needlessly.
        """
        delay = 0.2
        while True:
            try:
                await self.store.record_attempt(
                    message,
                    outcome,
                    at,
                    retry,
                    self.settings.pause_after_failures,
                    self.settings.pause_s,
                )
                return
            except Exception:
                log.exception("recording an attempt failed; retrying")
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.settings.reconnect_max_delay_s)


def log_attempt(message: Due, outcome: Outcome, retry_in: float | None) -> None:
    """One attempt, with its delivery's id (`extra=`: JSON logs' field); never the URL.

    A delivered post is a debug line (hundreds a second in a burst: DRONEFLEET_NOTIFIER_
    LOG_LEVEL=debug shows them), a failed one a warning, the last one failed an error:
    the business's messages wait for it to ask for a redelivery.
    """
    fields = {"delivery_id": message.delivery_id}
    if outcome.delivered:
        log.debug(
            "message %s to endpoint %s delivered in %.0f ms",
            message.message_id,
            message.endpoint_id,
            outcome.latency_ms,
            extra=fields,
        )
    elif retry_in is not None:
        log.warning(
            "message %s to endpoint %s failed (%s %s); retrying in %.0f s",
            message.message_id,
            message.endpoint_id,
            outcome.kind,
            outcome.response_code or "",
            retry_in,
            extra=fields,
        )
    else:
        log.error(
            "message %s to endpoint %s failed (%s %s) for the last time: dead-lettered",
            message.message_id,
            message.endpoint_id,
            outcome.kind,
            outcome.response_code or "",
            extra=fields,
        )


def signing_secrets(signing_key: str, message: Due, at: datetime) -> list[str]:
    """The secrets a post is signed with: the endpoint's, and the previous one's in a grace.

    During a rotation's grace a receiver not yet switched over still verifies.
    """
    secrets = [endpoint_secret(signing_key, message.endpoint_id, message.secret_version)]
    previous, until = message.previous_secret_version, message.previous_secret_until
    if previous is not None and until is not None and at < until:
        secrets.append(endpoint_secret(signing_key, message.endpoint_id, previous))
    return secrets
