-- 0020: views for the analysts' notebooks and the operators' dashboard.
--
-- The questions they answer (promised vs actual, on-time rate, ETA error by lead time,
-- busy share, battery cycles, a delivery's events) read the base tables in ways readers
-- may not, so each gets a view of the read contract here. They are plain views (no new
-- roll-up to refresh), written in SQL that PostgreSQL 15+ and TimescaleDB run alike
-- (date_bin, window functions, lateral joins); the conformance test runs them on both.
-- CREATE OR REPLACE keeps the file idempotent; new columns may only be added last.

-- Every event of every delivery, without its payload: the drill-down's event list.
CREATE OR REPLACE VIEW delivery_events_view AS
SELECT delivery_id, sequence, event_type, occurred_at, recorded_at, drone_id
FROM delivery_events;
COMMENT ON VIEW delivery_events_view IS
    'The events of each delivery in sequence: type, when it happened, the drone.';

-- One row per requested delivery: its milestones and the first ETA it was promised.
-- The promise is the ETA of the first tracking update that carried one (what the
-- customer saw first); on time means delivered at most 60 s after that promise.
-- 0042 redefines it with more columns; dropping it first lets this file run again after
-- that one (CREATE OR REPLACE VIEW cannot drop columns), and nothing depends on it.
DROP VIEW IF EXISTS delivery_timeline_view;
CREATE VIEW delivery_timeline_view AS
SELECT r.delivery_id,
       r.payload ->> 'business_id'                                           AS business_id,
       r.occurred_at                                                         AS requested_at,
       a.occurred_at                                                         AS assigned_at,
       a.drone_id                                                            AS drone_id,
       p.occurred_at                                                         AS picked_up_at,
       dl.occurred_at                                                        AS delivered_at,
       c.occurred_at                                                         AS cancelled_at,
       promise.observed_at                                                   AS promised_at,
       promise.eta                                                           AS promised_eta,
       extract(epoch FROM dl.occurred_at - r.occurred_at)::double precision  AS seconds_to_deliver,
       extract(epoch FROM dl.occurred_at - promise.eta)::double precision    AS late_s,
       dl.occurred_at <= promise.eta + INTERVAL '60 seconds'                 AS on_time
FROM delivery_events r
LEFT JOIN delivery_events a  ON a.delivery_id = r.delivery_id AND a.event_type = 'DroneAssigned'
LEFT JOIN delivery_events p  ON p.delivery_id = r.delivery_id AND p.event_type = 'PickedUp'
LEFT JOIN delivery_events dl ON dl.delivery_id = r.delivery_id AND dl.event_type = 'Delivered'
LEFT JOIN delivery_events c  ON c.delivery_id = r.delivery_id AND c.event_type = 'DeliveryCancelled'
LEFT JOIN LATERAL (SELECT observed_at, eta FROM tracking t
                   WHERE t.delivery_id = r.delivery_id AND t.eta IS NOT NULL
                   ORDER BY observed_at, sequence LIMIT 1) promise ON true
WHERE r.event_type = 'DeliveryRequested';
COMMENT ON VIEW delivery_timeline_view IS
    'Per delivery: requested, assigned, picked up, delivered or cancelled, the first ETA '
    'promised, how late against it and whether on time (at most 60 s late).';

-- Every ETA prediction of a delivered delivery, with how long before the arrival it was
-- made (lead) and how wrong it was (error = ETA - arrival; negative: promised too early).
-- The arrival is the Delivered event's time (the drop-off fix).
CREATE OR REPLACE VIEW delivery_eta_error_view AS
SELECT t.delivery_id,
       t.sequence,
       t.observed_at,
       t.eta,
       d.occurred_at                                                    AS delivered_at,
       extract(epoch FROM d.occurred_at - t.observed_at)::double precision AS lead_s,
       extract(epoch FROM t.eta - d.occurred_at)::double precision         AS error_s
FROM tracking t
JOIN delivery_events d ON d.delivery_id = t.delivery_id AND d.event_type = 'Delivered'
WHERE t.eta IS NOT NULL AND t.observed_at < d.occurred_at;
COMMENT ON VIEW delivery_eta_error_view IS
    'Each ETA given before a delivery arrived: lead time and error in seconds.';

-- Per drone and UTC hour: the share of its fixes in which it was busy (any phase but
-- idle: flying to a pickup or drop-off, dwelling there, or returning). Drones report at
-- a fixed rate, so the share of fixes is the share of time it reported.
CREATE OR REPLACE VIEW drone_hourly_utilization_view AS
SELECT drone_id,
       date_bin(INTERVAL '1 hour', observed_at, TIMESTAMPTZ '2000-01-03 00:00:00+00') AS hour,
       count(*)                                                     AS fixes,
       count(*) FILTER (WHERE phase <> 'idle')                      AS busy_fixes,
       (count(*) FILTER (WHERE phase <> 'idle'))::double precision
           / count(*)::double precision                             AS busy_share,
       min(observed_at)                                             AS first_fix_at,
       max(observed_at)                                             AS last_fix_at
FROM telemetry
GROUP BY drone_id, hour;
COMMENT ON VIEW drone_hourly_utilization_view IS
    'Per drone and UTC hour: fixes, fixes while busy (not idle) and the busy share.';

-- Per drone: how much battery it used and recharged between consecutive fixes, the
-- equivalent full cycles (percent discharged / 100) and how many times it started
-- charging (a rise after a fall or at its first step).
CREATE OR REPLACE VIEW drone_battery_view AS
WITH steps AS (
    SELECT drone_id, observed_at, sequence, battery_pct,
           battery_pct - lag(battery_pct) OVER w AS delta
    FROM telemetry
    WINDOW w AS (PARTITION BY drone_id ORDER BY observed_at, sequence)
), marked AS (
    SELECT drone_id, observed_at, battery_pct, delta,
           coalesce(delta > 0 AND coalesce(lag(delta) OVER w, 0) <= 0, false) AS charge_start
    FROM steps
    WINDOW w AS (PARTITION BY drone_id ORDER BY observed_at, sequence)
)
SELECT drone_id,
       count(*)                                              AS fixes,
       min(observed_at)                                      AS first_fix_at,
       max(observed_at)                                      AS last_fix_at,
       min(battery_pct)                                      AS min_battery_pct,
       coalesce(sum(-delta) FILTER (WHERE delta < 0), 0)     AS discharged_pct,
       coalesce(sum(delta) FILTER (WHERE delta > 0), 0)      AS charged_pct,
       coalesce(sum(-delta) FILTER (WHERE delta < 0), 0) / 100.0 AS equivalent_cycles,
       count(*) FILTER (WHERE charge_start)                  AS charges
FROM marked
GROUP BY drone_id;
COMMENT ON VIEW drone_battery_view IS
    'Per drone: battery percent discharged and charged, equivalent full cycles, charges.';
