-- 0040: a drone may give a delivery up. Before the pickup (it refused the assignment or
-- aborted on the way) the delivery is rescheduled (DeliveryRescheduled) and assigned
-- again, so one delivery can have several DroneAssigned events; with the parcel on
-- board the delivery fails (DeliveryFailed, with the reason).
--
-- The status view learns the two states and takes the drone of the *latest* assignment
-- (NULL while rescheduled: no drone has it) instead of joining every DroneAssigned,
-- which gave one row per assignment. Its columns stay those of 0011, so that every
-- migration from 0002 on can still run again in order (CREATE OR REPLACE VIEW cannot
-- drop columns). Why a drone gave a delivery up (the reason) stays in the event archive
-- (delivery_events.payload ->> 'reason') until a view of its own joins the read contract.

CREATE OR REPLACE VIEW delivery_status_view AS
SELECT d.delivery_id,
       r.payload ->> 'business_id'                                   AS business_id,
       CASE last.event_type
           WHEN 'DeliveryRequested'   THEN 'requested'
           WHEN 'DroneAssigned'       THEN 'assigned'
           WHEN 'PickedUp'            THEN 'picked_up'
           WHEN 'Delivered'           THEN 'delivered'
           WHEN 'DeliveryCancelled'   THEN 'cancelled'
           WHEN 'DeliveryRescheduled' THEN 'rescheduled'
           WHEN 'DeliveryFailed'      THEN 'failed'
       END                                                           AS status,
       (r.payload -> 'pickup' ->> 'lat')::double precision           AS pickup_lat,
       (r.payload -> 'pickup' ->> 'lon')::double precision           AS pickup_lon,
       (r.payload -> 'dropoff' ->> 'lat')::double precision          AS dropoff_lat,
       (r.payload -> 'dropoff' ->> 'lon')::double precision          AS dropoff_lon,
       r.occurred_at                                                 AS requested_at,
       CASE WHEN last.event_type = 'DeliveryRescheduled' THEN NULL
            ELSE a.drone_id END                                      AS drone_id,
       dl.occurred_at                                                AS delivered_at,
       t.eta                                                         AS latest_eta,
       t.lat                                                         AS latest_lat,
       t.lon                                                         AS latest_lon,
       t.remaining_m                                                 AS remaining_m,
       t.observed_at                                                 AS latest_fix_at,
       last.sequence                                                 AS version,
       c.occurred_at                                                 AS cancelled_at
FROM (SELECT DISTINCT delivery_id FROM delivery_events) d
JOIN LATERAL (SELECT event_type, sequence FROM delivery_events e
              WHERE e.delivery_id = d.delivery_id ORDER BY sequence DESC LIMIT 1) last ON true
LEFT JOIN delivery_events r  ON r.delivery_id = d.delivery_id AND r.event_type = 'DeliveryRequested'
LEFT JOIN LATERAL (SELECT drone_id FROM delivery_events e
                   WHERE e.delivery_id = d.delivery_id AND e.event_type = 'DroneAssigned'
                   ORDER BY sequence DESC LIMIT 1) a ON true
LEFT JOIN delivery_events dl ON dl.delivery_id = d.delivery_id AND dl.event_type = 'Delivered'
LEFT JOIN delivery_events c  ON c.delivery_id = d.delivery_id AND c.event_type = 'DeliveryCancelled'
LEFT JOIN LATERAL (SELECT eta, lat, lon, remaining_m, observed_at FROM tracking tr
                   WHERE tr.delivery_id = d.delivery_id
                   ORDER BY observed_at DESC, sequence DESC LIMIT 1) t ON true;
COMMENT ON VIEW delivery_status_view IS
    'One row per delivery: its state (fold of its events), the drone that has it, the '
    'latest ETA, and when it was delivered or cancelled.';
