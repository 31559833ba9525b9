"""The notifier's PostgreSQL side: its fold's state, the outbox, the attempts, its offsets.

A batch of records is written in one transaction with the next offsets (`write_batch`):
after a crash the consumer resumes at the stored offsets, so a message is in the outbox
once whatever the log redelivers. An attempt's outcome is written in one transaction
with the message's new state and the endpoint's failure count (`record_attempt`): a
crash between the post and that write posts the message again, with the same id
(at least once).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from aiokafka.structs import TopicPartition
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from notifier.attempts import Outcome
from notifier.routing import Endpoint, Owner, Writes


@dataclass(frozen=True, slots=True)
class Due:
    """A message the dispatcher may post now: the oldest undelivered of its delivery."""

    message_id: str
    endpoint_id: str
    delivery_id: str
    url: str
    secret_version: int
    body: bytes
    failures: int
    endpoint_failures: int
    previous_secret_version: int | None = None
    previous_secret_until: datetime | None = None
    """A rotation's grace: the version before signs alongside until then."""


class Store:
    """The notifier's tables, through a small pool of connections."""

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool

    async def load(self) -> tuple[dict[str, Endpoint], dict[str, Owner]]:
        """The fold's state as last committed."""
        async with self.pool.connection() as conn:
            cursor = conn.cursor(row_factory=dict_row)
            await cursor.execute(
                "SELECT endpoint_id, business_id, url, topics, enabled, deleted,"
                " secret_version, sequence, registered_at, previous_secret_version,"
                " previous_secret_until FROM notifier.endpoints"
            )
            endpoints = {
                row["endpoint_id"]: Endpoint(**{**row, "topics": frozenset(row["topics"])})
                for row in await cursor.fetchall()
            }
            await cursor.execute(
                "SELECT delivery_id, business_id, notified_eta FROM notifier.owners"
            )
            owners = {
                row["delivery_id"]: Owner(row["business_id"], row["notified_eta"])
                for row in await cursor.fetchall()
            }
        return endpoints, owners

    async def offsets(self, partitions: Iterable[TopicPartition]) -> dict[TopicPartition, int]:
        """The stored next offset of each partition that has one."""
        wanted = list(partitions)
        async with self.pool.connection() as conn:
            rows = await (
                await conn.execute(
                    "SELECT topic, partition, next_offset FROM notifier.offsets"
                    " WHERE topic = ANY(%s)",
                    ([tp.topic for tp in wanted],),
                )
            ).fetchall()
        stored = {TopicPartition(str(t), int(str(p))): int(str(o)) for t, p, o in rows}
        return {tp: stored[tp] for tp in wanted if tp in stored}

    async def write_batch(self, writes: Writes, offsets: dict[TopicPartition, int]) -> None:
        """The batch's changes and the next offsets, in one transaction."""
        async with self.pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
            for e in writes.endpoints.values():
                await cur.execute(
                    "INSERT INTO notifier.endpoints (endpoint_id, business_id, url, topics,"
                    " enabled, deleted, secret_version, sequence, registered_at,"
                    " previous_secret_version, previous_secret_until)"
                    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
                    " ON CONFLICT (endpoint_id) DO UPDATE SET url = EXCLUDED.url,"
                    " topics = EXCLUDED.topics, enabled = EXCLUDED.enabled,"
                    " deleted = EXCLUDED.deleted, secret_version = EXCLUDED.secret_version,"
                    " sequence = EXCLUDED.sequence,"
                    " previous_secret_version = EXCLUDED.previous_secret_version,"
                    " previous_secret_until = EXCLUDED.previous_secret_until"
                    " WHERE EXCLUDED.sequence > notifier.endpoints.sequence",
                    (
                        e.endpoint_id,
                        e.business_id,
                        e.url,
                        sorted(e.topics),
                        e.enabled,
                        e.deleted,
                        e.secret_version,
                        e.sequence,
                        e.registered_at,
                        e.previous_secret_version,
                        e.previous_secret_until,
                    ),
                )
                if e.deleted:  # the business asked: what waits for it is dropped
                    await cur.execute(
                        "UPDATE notifier.messages SET state = 'dropped'"
                        " WHERE endpoint_id = %s AND state IN ('pending', 'dead')",
                        (e.endpoint_id,),
                    )
            for delivery_id, owner in writes.owners.items():
                if owner is None:
                    await cur.execute(
                        "DELETE FROM notifier.owners WHERE delivery_id = %s", (delivery_id,)
                    )
                else:
                    await cur.execute(
                        "INSERT INTO notifier.owners (delivery_id, business_id, notified_eta)"
                        " VALUES (%s, %s, %s) ON CONFLICT (delivery_id)"
                        " DO UPDATE SET notified_eta = EXCLUDED.notified_eta",
                        (delivery_id, owner.business_id, owner.notified_eta),
                    )
            if writes.messages:
                await cur.executemany(
                    "INSERT INTO notifier.messages (message_id, endpoint_id, delivery_id,"
                    " topic, event_id, event_recorded_at, body)"
                    " VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (message_id) DO NOTHING",
                    [
                        (
                            m.message_id,
                            m.endpoint_id,
                            m.delivery_id,
                            m.topic,
                            m.event_id,
                            m.event_recorded_at,
                            m.body,
                        )
                        for m in writes.messages
                    ],
                )
            for r in writes.redeliveries:
                await cur.execute(
                    "UPDATE notifier.messages m SET state = 'pending', failures = 0,"
                    " next_attempt_at = now(), dead_at = NULL, dead_reason = NULL"
                    " FROM notifier.endpoints e WHERE e.endpoint_id = m.endpoint_id"
                    " AND m.endpoint_id = %s AND e.business_id = %s AND m.state = 'dead'"
                    " AND m.dead_at <= %s AND (cardinality(%s::text[]) = 0"
                    " OR m.message_id = ANY(%s::text[]))",
                    (
                        r.endpoint_id,
                        r.business_id,
                        r.before,
                        list(r.message_ids),
                        list(r.message_ids),
                    ),
                )
                await cur.execute(
                    "UPDATE notifier.endpoints SET consecutive_failures = 0,"
                    " paused_until = NULL WHERE endpoint_id = %s AND business_id = %s",
                    (r.endpoint_id, r.business_id),
                )
            await cur.executemany(
                "INSERT INTO notifier.offsets (topic, partition, next_offset)"
                " VALUES (%s, %s, %s) ON CONFLICT (topic, partition)"
                " DO UPDATE SET next_offset = EXCLUDED.next_offset",
                [(tp.topic, tp.partition, o) for tp, o in offsets.items()],
            )

    async def due(self, per_endpoint: int) -> list[Due]:
        """Messages to post now: per endpoint (not paused, enabled), the heads of deliveries.

        A head is the oldest message of its (endpoint, delivery) not yet delivered: a
        later one waits for it, which is what keeps a delivery's messages in order. Taken
        per endpoint (`per_endpoint` at most), so one endpoint's backlog cannot crowd the
        others out of a round.
        """
        async with self.pool.connection() as conn:
            rows = await (
                await conn.execute(
                    "SELECT m.message_id, m.endpoint_id, m.delivery_id, e.url,"
                    " e.secret_version, m.body, m.failures, e.consecutive_failures,"
                    " e.previous_secret_version, e.previous_secret_until"
                    " FROM notifier.endpoints e CROSS JOIN LATERAL ("
                    "  SELECT * FROM notifier.messages m"
                    "  WHERE m.endpoint_id = e.endpoint_id AND m.state = 'pending'"
                    "   AND m.next_attempt_at <= now()"
                    "   AND NOT EXISTS (SELECT 1 FROM notifier.messages p"
                    "    WHERE p.endpoint_id = m.endpoint_id AND p.delivery_id = m.delivery_id"
                    "     AND p.position < m.position AND p.state IN ('pending', 'dead'))"
                    "  ORDER BY m.position LIMIT %s) m"
                    " WHERE e.enabled AND NOT e.deleted"
                    "  AND (e.paused_until IS NULL OR e.paused_until <= now())"
                    " ORDER BY m.position",
                    (per_endpoint,),
                )
            ).fetchall()
        return [Due(*row) for row in rows]

    async def record_attempt(
        self,
        due: Due,
        outcome: Outcome,
        attempted_at: datetime,
        retry_in_s: float | None,
        pause_after: int,
        pause_s: float,
    ) -> None:
        """The attempt, the message's new state and the endpoint's health, in one transaction.

        A failure with `retry_in_s` None dead-letters the message and the later ones of
        its delivery for this endpoint (they would otherwise wait behind it forever, and a
        redelivery takes them back in their order).
        """
        if outcome.delivered:
            await self._delivered(due, outcome, attempted_at)
            return
        async with self.pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
            await cur.execute(
                "INSERT INTO notifier.attempts (message_id, endpoint_id, attempted_at, outcome,"
                " response_code, latency_ms, detail) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                (
                    due.message_id,
                    due.endpoint_id,
                    attempted_at,
                    outcome.kind,
                    outcome.response_code,
                    outcome.latency_ms,
                    outcome.detail[:500],
                ),
            )
            if retry_in_s is None:
                await cur.execute(
                    "UPDATE notifier.messages SET state = 'dead', failures = failures + 1,"
                    " dead_at = now(), dead_reason = %s"
                    " WHERE message_id = %s AND state = 'pending'",
                    (f"retries exhausted: {outcome.kind}", due.message_id),
                )
                await cur.execute(
                    "UPDATE notifier.messages SET state = 'dead', dead_at = now(),"
                    " dead_reason = 'behind a dead-lettered message of its delivery'"
                    " WHERE endpoint_id = %s AND delivery_id = %s AND state = 'pending'"
                    " AND position > (SELECT position FROM notifier.messages"
                    "  WHERE message_id = %s)",
                    (due.endpoint_id, due.delivery_id, due.message_id),
                )
            else:
                await cur.execute(
                    "UPDATE notifier.messages SET failures = failures + 1,"
                    " next_attempt_at = now() + make_interval(secs => %s)"
                    " WHERE message_id = %s AND state = 'pending'",
                    (retry_in_s, due.message_id),
                )
            await cur.execute(
                "UPDATE notifier.endpoints SET consecutive_failures = consecutive_failures + 1,"
                " paused_until = CASE WHEN consecutive_failures + 1 >= %s"
                "  THEN now() + make_interval(secs => %s) ELSE paused_until END"
                " WHERE endpoint_id = %s",
                (pause_after, pause_s, due.endpoint_id),
            )

    async def _delivered(self, due: Due, outcome: Outcome, attempted_at: datetime) -> None:
        """A delivery's three writes in one statement: one round trip (the common case)."""
        async with self.pool.connection() as conn:
            await conn.execute(
                "WITH attempt AS (INSERT INTO notifier.attempts (message_id, endpoint_id,"
                "  attempted_at, outcome, response_code, latency_ms, detail)"
                "  VALUES (%(m)s, %(e)s, %(at)s, %(kind)s, %(code)s, %(ms)s, %(detail)s)),"
                " message AS (UPDATE notifier.messages SET state = 'delivered',"
                "  delivered_at = now() WHERE message_id = %(m)s AND state = 'pending')"
                " UPDATE notifier.endpoints SET consecutive_failures = 0, paused_until = NULL"
                " WHERE endpoint_id = %(e)s"
                " AND (consecutive_failures <> 0 OR paused_until IS NOT NULL)",
                {
                    "m": due.message_id,
                    "e": due.endpoint_id,
                    "at": attempted_at,
                    "kind": outcome.kind,
                    "code": outcome.response_code,
                    "ms": outcome.latency_ms,
                    "detail": outcome.detail[:500],
                },
            )

    async def purge_delivered(self, older_than_s: float, limit: int) -> tuple[int, int]:
        """Delete at most `limit` messages delivered over `older_than_s` ago, and their attempts.

        Only `delivered` ones: a pending message (waiting, paused), a dead letter (the
        business may ask for it again) or a dropped one stays, its attempts too. One
        statement, one transaction: (messages, attempts) deleted.
        """
        async with self.pool.connection() as conn:
            row = await (
                await conn.execute(
                    "WITH gone AS (DELETE FROM notifier.messages WHERE message_id IN ("
                    "  SELECT message_id FROM notifier.messages WHERE state = 'delivered'"
                    "   AND delivered_at < now() - make_interval(secs => %s)"
                    "  ORDER BY delivered_at LIMIT %s FOR UPDATE SKIP LOCKED)"
                    " AND state = 'delivered' RETURNING message_id),"
                    " attempts AS (DELETE FROM notifier.attempts a USING gone"
                    "  WHERE a.message_id = gone.message_id RETURNING 1)"
                    " SELECT (SELECT count(*) FROM gone), (SELECT count(*) FROM attempts)",
                    (older_than_s, limit),
                )
            ).fetchone()
        return (int(row[0]), int(row[1])) if row is not None else (0, 0)
