-- 0011: deliveries can be cancelled before pickup (DeliveryCancelled): the status view
-- shows 'cancelled' and when. New columns go last, as CREATE OR REPLACE VIEW requires.

CREATE OR REPLACE VIEW delivery_status_view AS
SELECT d.delivery_id,
       r.payload ->> 'business_id'                                   AS business_id,
       CASE last.event_type
           WHEN 'DeliveryRequested' THEN 'requested'
           WHEN 'DroneAssigned'     THEN 'assigned'
           WHEN 'PickedUp'          THEN 'picked_up'
           WHEN 'Delivered'         THEN 'delivered'
           WHEN 'DeliveryCancelled' THEN 'cancelled'
       END                                                           AS status,
       (r.payload -> 'pickup' ->> 'lat')::double precision           AS pickup_lat,
       (r.payload -> 'pickup' ->> 'lon')::double precision           AS pickup_lon,
       (r.payload -> 'dropoff' ->> 'lat')::double precision          AS dropoff_lat,
       (r.payload -> 'dropoff' ->> 'lon')::double precision          AS dropoff_lon,
       r.occurred_at                                                 AS requested_at,
       a.drone_id                                                    AS drone_id,
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
LEFT JOIN delivery_events a  ON a.delivery_id = d.delivery_id AND a.event_type = 'DroneAssigned'
LEFT JOIN delivery_events dl ON dl.delivery_id = d.delivery_id AND dl.event_type = 'Delivered'
LEFT JOIN delivery_events c  ON c.delivery_id = d.delivery_id AND c.event_type = 'DeliveryCancelled'
LEFT JOIN LATERAL (SELECT eta, lat, lon, remaining_m, observed_at FROM tracking tr
                   WHERE tr.delivery_id = d.delivery_id
                   ORDER BY observed_at DESC, sequence DESC LIMIT 1) t ON true;
COMMENT ON VIEW delivery_status_view IS
    'One row per delivery: its state (fold of its events), the drone, the latest ETA, '
    'and when it was delivered or cancelled.';
