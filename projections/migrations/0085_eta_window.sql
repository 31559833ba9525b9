-- 0085: the ETA's window in the read models (issue 19, parts 4 and 5).
--
-- Each `TrackingUpdated` carries the earliest and latest arrival the stream worker
-- promised with its ETA (`streams.domain.eta_window`, learned from its own past errors).
-- The sink records them beside the ETA, so the read models can say what window a customer
-- was shown and how often the arrival fell inside it. NULL in rows recorded before the
-- window existed and in updates without an ETA.
--
-- `tracking` is partitioned (plain PostgreSQL, 0070) or a hypertable (TimescaleDB, 0002):
-- a nullable column without a default is added on the parent and reaches every
-- partition or chunk (compressed ones too) without rewriting a row.

ALTER TABLE tracking ADD COLUMN IF NOT EXISTS eta_earliest timestamptz;
ALTER TABLE tracking ADD COLUMN IF NOT EXISTS eta_latest timestamptz;

-- The customer's view of a delivery's updates now shows the window too (new columns last).
CREATE OR REPLACE VIEW delivery_track_view AS
SELECT delivery_id, sequence, observed_at, drone_id, lat, lon, altitude_m,
       ground_speed_mps, status, remaining_m, eta, eta_earliest, eta_latest
FROM tracking;

-- Every ETA given before a delivery arrived, scored against the arrival: the rows of the
-- accuracy table of issue 19 (benchmarks/eta_accuracy_run.py computes the same from the
-- log). The lead is the time that was still to go, delivered_at - observed_at (not what
-- the ETA said was left), and `lead_min` puts an update in the table's row 1, 5, 10 or
-- 15 minutes when its lead is within 30 s of it (NULL otherwise). error_s = ETA -
-- arrival (negative: promised too early). inside_window: the arrival fell between
-- eta_earliest and eta_latest (inclusive); NULL for an update without a window.
CREATE OR REPLACE VIEW eta_accuracy_view AS
SELECT t.delivery_id,
       t.sequence,
       t.observed_at,
       d.occurred_at                                                         AS delivered_at,
       extract(epoch FROM d.occurred_at - t.observed_at)::double precision   AS lead_s,
       (SELECT m.lead_min FROM (VALUES (1), (5), (10), (15)) AS m (lead_min)
        WHERE abs(extract(epoch FROM d.occurred_at - t.observed_at) - 60 * m.lead_min) <= 30
       )::int                                                                AS lead_min,
       t.eta,
       t.eta_earliest,
       t.eta_latest,
       extract(epoch FROM t.eta - d.occurred_at)::double precision           AS error_s,
       CASE WHEN t.eta_earliest IS NOT NULL AND t.eta_latest IS NOT NULL
            THEN d.occurred_at BETWEEN t.eta_earliest AND t.eta_latest END   AS inside_window
FROM tracking t
JOIN delivery_events d ON d.delivery_id = t.delivery_id AND d.event_type = 'Delivered'
WHERE t.eta IS NOT NULL AND t.observed_at < d.occurred_at;
COMMENT ON VIEW eta_accuracy_view IS
    'Each ETA given before a delivery arrived: the time still to go (lead_s, and the '
    'accuracy table''s row lead_min: 1, 5, 10 or 15 when within 30 s), the error (ETA - '
    'arrival, s) and whether the arrival fell inside the window promised with it.';
