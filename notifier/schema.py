"""The notifier's own tables and views, in the schema `notifier`, created at its start.

Its own schema rather than the projections' migrations: a rebuild of the projection
moves every relation of the live schema out and drops it (`projections.shadow`), and the
outbox, the attempts and the consumed offsets are not rebuildable from the log (the
attempts happened once). The API reads the views (`*_view`), never the tables.

Every statement is idempotent (IF NOT EXISTS, OR REPLACE) and runs under an advisory
lock, so two notifiers starting at once create it once.
"""

from __future__ import annotations

import psycopg

SCHEMA_LOCK = 0x0D50_F1F7

DDL = """
CREATE SCHEMA IF NOT EXISTS notifier;

CREATE TABLE IF NOT EXISTS notifier.offsets (
    topic       text    NOT NULL,
    partition   integer NOT NULL,
    next_offset bigint  NOT NULL,
    PRIMARY KEY (topic, partition)
);

CREATE TABLE IF NOT EXISTS notifier.endpoints (
    endpoint_id          text        PRIMARY KEY,
    business_id          text        NOT NULL,
    url                  text        NOT NULL,
    topics               text[]      NOT NULL,
    enabled              boolean     NOT NULL,
    deleted              boolean     NOT NULL,
    secret_version       integer     NOT NULL,
    sequence             bigint      NOT NULL,
    registered_at        timestamptz NOT NULL,
    consecutive_failures integer     NOT NULL DEFAULT 0,
    paused_until         timestamptz
);

ALTER TABLE notifier.endpoints ADD COLUMN IF NOT EXISTS previous_secret_version integer;
ALTER TABLE notifier.endpoints ADD COLUMN IF NOT EXISTS previous_secret_until timestamptz;

CREATE TABLE IF NOT EXISTS notifier.owners (
    delivery_id  text PRIMARY KEY,
    business_id  text NOT NULL,
    notified_eta timestamptz
);

CREATE TABLE IF NOT EXISTS notifier.messages (
    position          bigint      GENERATED ALWAYS AS IDENTITY,
    message_id        text        PRIMARY KEY,
    endpoint_id       text        NOT NULL,
    delivery_id       text        NOT NULL,
    topic             text        NOT NULL,
    event_id          text        NOT NULL,
    event_recorded_at timestamptz NOT NULL,
    body              bytea       NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    state             text        NOT NULL DEFAULT 'pending'
                      CHECK (state IN ('pending', 'delivered', 'dead', 'dropped')),
    failures          integer     NOT NULL DEFAULT 0,
    next_attempt_at   timestamptz NOT NULL DEFAULT now(),
    delivered_at      timestamptz,
    dead_at           timestamptz,
    dead_reason       text
);
CREATE INDEX IF NOT EXISTS messages_pending_idx
    ON notifier.messages (endpoint_id, position) WHERE state = 'pending';
CREATE INDEX IF NOT EXISTS messages_order_idx
    ON notifier.messages (endpoint_id, delivery_id, position) WHERE state IN ('pending', 'dead');
CREATE INDEX IF NOT EXISTS messages_endpoint_idx
    ON notifier.messages (endpoint_id, position);
CREATE INDEX IF NOT EXISTS messages_delivered_idx
    ON notifier.messages (delivered_at) WHERE state = 'delivered';

CREATE TABLE IF NOT EXISTS notifier.attempts (
    attempt_id    bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_id    text        NOT NULL,
    endpoint_id   text        NOT NULL,
    attempted_at  timestamptz NOT NULL,
    outcome       text        NOT NULL,
    response_code integer,
    latency_ms    double precision NOT NULL,
    detail        text        NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS attempts_message_idx ON notifier.attempts (message_id, attempt_id);
CREATE INDEX IF NOT EXISTS attempts_endpoint_idx ON notifier.attempts (endpoint_id, attempt_id);

-- The read contract (the API, the dashboard) ------------------------------------------

CREATE OR REPLACE VIEW notifier.webhook_messages_view AS
SELECT m.message_id, m.endpoint_id, e.business_id, m.delivery_id, m.topic, m.event_id,
       m.position, m.state, m.failures, m.created_at, m.next_attempt_at, m.delivered_at,
       m.dead_at, m.dead_reason
FROM notifier.messages m JOIN notifier.endpoints e USING (endpoint_id);

CREATE OR REPLACE VIEW notifier.webhook_attempts_view AS
SELECT a.attempt_id, a.message_id, a.endpoint_id, e.business_id, a.attempted_at, a.outcome,
       a.response_code, a.latency_ms, a.detail
FROM notifier.attempts a JOIN notifier.endpoints e USING (endpoint_id);

CREATE OR REPLACE VIEW notifier.webhook_endpoint_health_view AS
SELECT e.endpoint_id, e.business_id, e.url, e.enabled, e.deleted, e.consecutive_failures,
       e.paused_until,
       count(*) FILTER (WHERE m.state = 'delivered') AS delivered,
       count(*) FILTER (WHERE m.state = 'pending')   AS pending,
       count(*) FILTER (WHERE m.state = 'dead')      AS dead
FROM notifier.endpoints e LEFT JOIN notifier.messages m USING (endpoint_id)
GROUP BY e.endpoint_id;
"""


def ensure_schema(database_url: str) -> None:
    """Create the notifier's schema, tables and views if they are missing."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (SCHEMA_LOCK,))
        try:
            with conn.transaction():
                conn.execute(DDL)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (SCHEMA_LOCK,))
