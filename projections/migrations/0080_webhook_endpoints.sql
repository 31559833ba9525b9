-- 0080: webhook endpoints (issue 23). The businesses topic's WebhookEndpointRegistered,
-- WebhookEndpointUpdated and WebhookEndpointDeleted events, appended as they come (one
-- row per event, unique by event id: the sink's idempotent COPY), and the view of each
-- endpoint's current state the API lists. Redelivery requests are the notifier's, and the
-- notifier's own state (messages, attempts) lives in its schema `notifier`, which a
-- rebuild of this projection does not touch (docs/decisions/0004-webhooks.md).

CREATE TABLE IF NOT EXISTS webhook_endpoint_events (
    endpoint_id  text        NOT NULL,
    sequence     bigint      NOT NULL,
    event_id     text        PRIMARY KEY,
    event_type   text        NOT NULL,
    business_id  text        NOT NULL,
    recorded_at  timestamptz NOT NULL,
    payload      jsonb       NOT NULL
);
CREATE INDEX IF NOT EXISTS webhook_endpoint_events_endpoint_idx
    ON webhook_endpoint_events (endpoint_id, sequence DESC, recorded_at DESC);
CREATE INDEX IF NOT EXISTS webhook_endpoint_events_business_idx
    ON webhook_endpoint_events (business_id);
COMMENT ON TABLE webhook_endpoint_events IS
    'Archive of the webhook endpoint events of the businesses topic (never a secret).';

-- The read contract ------------------------------------------------------------------

CREATE OR REPLACE VIEW webhook_endpoints_view AS
SELECT latest.endpoint_id,
       latest.business_id,
       latest.payload ->> 'url'                                        AS url,
       ARRAY(SELECT jsonb_array_elements_text(latest.payload -> 'topics')) AS topics,
       COALESCE(latest.payload ->> 'description', '')                 AS description,
       COALESCE((latest.payload ->> 'enabled')::boolean, true)        AS enabled,
       COALESCE((latest.payload ->> 'secret_version')::int, 1)        AS secret_version,
       latest.sequence,
       first.recorded_at                                              AS created_at,
       latest.recorded_at                                             AS updated_at
FROM (
    SELECT DISTINCT ON (endpoint_id) *
    FROM webhook_endpoint_events
    ORDER BY endpoint_id, sequence DESC, recorded_at DESC
) latest
JOIN LATERAL (
    SELECT min(e.recorded_at) AS recorded_at
    FROM webhook_endpoint_events e WHERE e.endpoint_id = latest.endpoint_id
) first ON true
WHERE latest.event_type <> 'WebhookEndpointDeleted';
COMMENT ON VIEW webhook_endpoints_view IS
    'Each webhook endpoint''s current state (its newest event); deleted ones are gone.';
