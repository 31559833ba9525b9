-- 0075: a delivery's current state is state kept by the sink, not a fold of the archive.
--
-- Until now `delivery_status_view` folded every delivery ever requested (DISTINCT over
-- `delivery_events`, lateral lookups of its events, the latest `tracking` row) and only
-- then filtered: the dashboard's in-flight list and the API's waiting line, which ask
-- "which deliveries are assigned / waiting now", cost O(every delivery ever): 243 ms at
-- p99 with 10 million fixes of history, 694 ms at 30 million (BENCHMARKS.md, history).
-- The event archive is kept for ever, so that only grew.
--
-- `delivery_current` holds one row per delivery, written by the sink in the same
-- transaction as the `delivery_events` and `tracking` rows (`projections.rows`):
--
-- * the fold of the delivery's events (status, business, pickup and drop-off, when it
--   was requested, delivered or cancelled, the drone of the latest assignment, `version`
--   = the latest event's sequence) is recomputed from `delivery_events` for the
--   deliveries a batch touched (`rows.EVENTS_FOLD`: the same expressions as 0040's view)
--   and replaces the row only if its version is not older (`>=`: a replay of the same
--   events writes the same values; an event that arrives late with a lower sequence
--   re-folds with the same version and fills what was missing);
-- * the latest tracking update (`latest_*`, by observed_at then sequence, the order of
--   0040's view) is the batch's newest of each delivery, and replaces the row's only if
--   newer (`rows.TRACKING_UPSERT`), like `drone_latest`.
--
-- Both halves are maxima over what was written, in any order and however many times, so
-- a replay or a rebuild from the log gives the same rows. A row may come from tracking
-- before the delivery's first event reaches the sink (two topics): its fold columns are
-- NULL (`version IS NULL`) and the view leaves it out until the events arrive, as the
-- fold over `delivery_events` did.
--
-- One difference from the fold over history: a delivery whose tracking partitions
-- retention has dropped keeps its latest update here (the fold would have shown NULL).
--
-- The view keeps its name, columns, types and order (the read contract, docs/views.md);
-- the backfill below is the same fold over the existing rows (idempotent: running the
-- file again changes nothing). It is a plain table on TimescaleDB too (state, not time
-- series).

CREATE TABLE IF NOT EXISTS delivery_current (
    delivery_id         text PRIMARY KEY,
    business_id         text,
    status              text,
    pickup_lat          double precision,
    pickup_lon          double precision,
    dropoff_lat         double precision,
    dropoff_lon         double precision,
    requested_at        timestamptz,
    drone_id            text,
    delivered_at        timestamptz,
    cancelled_at        timestamptz,
    version             bigint,
    latest_eta          timestamptz,
    latest_lat          double precision,
    latest_lon          double precision,
    remaining_m         double precision,
    latest_fix_at       timestamptz,
    latest_fix_sequence bigint
) WITH (fillfactor = 70);
-- Room on each page: a tracking update rewrites a delivery's row every second while it
-- flies, and no index covers the `latest_*` columns, so the update stays HOT (no new
-- index entry).
COMMENT ON TABLE delivery_current IS
    'Every delivery''s current state: the fold of its events (version = latest sequence) '
    'and its latest tracking update, upserted by the sink with each batch; never moves back.';

-- The two "now" questions, each over its own rows only: the deliveries in flight (the
-- dashboard, ordered by ETA in memory: a few thousand rows) and the waiting line (the
-- API, in dispatch's order). Partial, so a delivery leaves the index when it is done.
CREATE INDEX IF NOT EXISTS delivery_current_in_flight_idx
    ON delivery_current (requested_at, delivery_id) WHERE status IN ('assigned', 'picked_up');
CREATE INDEX IF NOT EXISTS delivery_current_waiting_idx
    ON delivery_current (requested_at, delivery_id) WHERE status IN ('requested', 'rescheduled');

-- Backfill: the events' fold of every delivery (as `rows.EVENTS_FOLD`) ...
INSERT INTO delivery_current (delivery_id, business_id, status, pickup_lat, pickup_lon,
                              dropoff_lat, dropoff_lon, requested_at, drone_id,
                              delivered_at, cancelled_at, version)
SELECT d.delivery_id,
       r.payload ->> 'business_id',
       CASE last.event_type
           WHEN 'DeliveryRequested'   THEN 'requested'
           WHEN 'DroneAssigned'       THEN 'assigned'
           WHEN 'PickedUp'            THEN 'picked_up'
           WHEN 'Delivered'           THEN 'delivered'
           WHEN 'DeliveryCancelled'   THEN 'cancelled'
           WHEN 'DeliveryRescheduled' THEN 'rescheduled'
           WHEN 'DeliveryFailed'      THEN 'failed'
       END,
       (r.payload -> 'pickup' ->> 'lat')::double precision,
       (r.payload -> 'pickup' ->> 'lon')::double precision,
       (r.payload -> 'dropoff' ->> 'lat')::double precision,
       (r.payload -> 'dropoff' ->> 'lon')::double precision,
       r.occurred_at,
       CASE WHEN last.event_type = 'DeliveryRescheduled' THEN NULL ELSE a.drone_id END,
       dl.occurred_at,
       c.occurred_at,
       last.sequence
FROM (SELECT DISTINCT delivery_id FROM delivery_events) d
JOIN LATERAL (SELECT event_type, sequence FROM delivery_events e
              WHERE e.delivery_id = d.delivery_id ORDER BY sequence DESC LIMIT 1) last ON true
LEFT JOIN LATERAL (SELECT payload, occurred_at FROM delivery_events e
                   WHERE e.delivery_id = d.delivery_id AND e.event_type = 'DeliveryRequested'
                   ORDER BY sequence LIMIT 1) r ON true
LEFT JOIN LATERAL (SELECT drone_id FROM delivery_events e
                   WHERE e.delivery_id = d.delivery_id AND e.event_type = 'DroneAssigned'
                   ORDER BY sequence DESC LIMIT 1) a ON true
LEFT JOIN LATERAL (SELECT occurred_at FROM delivery_events e
                   WHERE e.delivery_id = d.delivery_id AND e.event_type = 'Delivered'
                   ORDER BY sequence LIMIT 1) dl ON true
LEFT JOIN LATERAL (SELECT occurred_at FROM delivery_events e
                   WHERE e.delivery_id = d.delivery_id AND e.event_type = 'DeliveryCancelled'
                   ORDER BY sequence LIMIT 1) c ON true
ON CONFLICT (delivery_id) DO UPDATE SET
    business_id = EXCLUDED.business_id, status = EXCLUDED.status,
    pickup_lat = EXCLUDED.pickup_lat, pickup_lon = EXCLUDED.pickup_lon,
    dropoff_lat = EXCLUDED.dropoff_lat, dropoff_lon = EXCLUDED.dropoff_lon,
    requested_at = EXCLUDED.requested_at, drone_id = EXCLUDED.drone_id,
    delivered_at = EXCLUDED.delivered_at, cancelled_at = EXCLUDED.cancelled_at,
    version = EXCLUDED.version
WHERE delivery_current.version IS NULL OR EXCLUDED.version >= delivery_current.version;

-- ... and the latest tracking update of every delivery (as `rows.TRACKING_UPSERT`).
INSERT INTO delivery_current (delivery_id, latest_eta, latest_lat, latest_lon, remaining_m,
                              latest_fix_at, latest_fix_sequence)
SELECT DISTINCT ON (delivery_id)
       delivery_id, eta, lat, lon, remaining_m, observed_at, sequence
FROM tracking
ORDER BY delivery_id, observed_at DESC, sequence DESC
ON CONFLICT (delivery_id) DO UPDATE SET
    latest_eta = EXCLUDED.latest_eta, latest_lat = EXCLUDED.latest_lat,
    latest_lon = EXCLUDED.latest_lon, remaining_m = EXCLUDED.remaining_m,
    latest_fix_at = EXCLUDED.latest_fix_at, latest_fix_sequence = EXCLUDED.latest_fix_sequence
WHERE delivery_current.latest_fix_at IS NULL
   OR (EXCLUDED.latest_fix_at, EXCLUDED.latest_fix_sequence)
      > (delivery_current.latest_fix_at, delivery_current.latest_fix_sequence);

-- The read contract: the same columns, in the same order, now O(rows asked for). A
-- filter on status uses the partial indexes above; one delivery, the primary key.
CREATE OR REPLACE VIEW delivery_status_view AS
SELECT delivery_id, business_id, status, pickup_lat, pickup_lon, dropoff_lat, dropoff_lon,
       requested_at, drone_id, delivered_at, latest_eta, latest_lat, latest_lon,
       remaining_m, latest_fix_at, version, cancelled_at
FROM delivery_current
WHERE version IS NOT NULL;
COMMENT ON VIEW delivery_status_view IS
    'One row per delivery: its state (fold of its events), the drone that has it, the '
    'latest ETA, and when it was delivered or cancelled; kept current by the sink.';
