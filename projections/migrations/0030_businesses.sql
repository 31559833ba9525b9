-- 0030: businesses (the businesses topic's BusinessRegistered events), and the views the
-- API's business endpoints read: a business's API keys by public key id and its
-- deliveries in request order (keyset pagination). A delivery's history is 0020's
-- `delivery_events_view`.

CREATE TABLE IF NOT EXISTS businesses (
    business_id   text        PRIMARY KEY,
    event_id      text        NOT NULL UNIQUE,
    name          text        NOT NULL,
    contact       text        NOT NULL,
    key_id        text        NOT NULL UNIQUE,
    key_sha256    text        NOT NULL,
    registered_at timestamptz NOT NULL
);
COMMENT ON TABLE businesses IS
    'Archive of the businesses topic: one row per registered business, with the SHA-256 '
    'of its API key (never the key).';

-- A business's deliveries, newest first, one page at a time: the index serves
-- `WHERE business_id = $1 AND (requested_at, delivery_id) < ($2, $3) ORDER BY ... DESC`.
CREATE INDEX IF NOT EXISTS delivery_events_business_idx
    ON delivery_events ((payload ->> 'business_id'), occurred_at, delivery_id)
    WHERE event_type = 'DeliveryRequested';

-- The read contract ------------------------------------------------------------------

CREATE OR REPLACE VIEW business_keys_view AS
SELECT key_id, business_id, key_sha256
FROM businesses;
COMMENT ON VIEW business_keys_view IS
    'API keys by their public id: the API hashes a presented key and compares.';

CREATE OR REPLACE VIEW businesses_view AS
SELECT business_id, name, contact, registered_at
FROM businesses;
COMMENT ON VIEW businesses_view IS 'Every registered business.';

CREATE OR REPLACE VIEW business_deliveries_view AS
SELECT payload ->> 'business_id' AS business_id,
       delivery_id,
       occurred_at               AS requested_at
FROM delivery_events
WHERE event_type = 'DeliveryRequested';
COMMENT ON VIEW business_deliveries_view IS
    'Which business requested which delivery, and when (for paging a business''s deliveries).';
