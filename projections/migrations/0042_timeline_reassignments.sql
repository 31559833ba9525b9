-- 0042: the analysts' delivery timeline (0020) after 0040: a delivery may be assigned
-- several times (rescheduled when a drone gives it up before the pickup) and may fail
-- (DeliveryFailed, parcel on board). 0020 joined every DroneAssigned, which gave one row
-- per assignment; now `assigned_at` and `drone_id` are those of the latest assignment
-- (the drone that flew it, or has it), and two columns come last, as CREATE OR REPLACE
-- VIEW requires: `failed_at` and `assignments` (how many times it was assigned).

CREATE OR REPLACE VIEW delivery_timeline_view AS
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
       dl.occurred_at <= promise.eta + INTERVAL '60 seconds'                 AS on_time,
       f.occurred_at                                                         AS failed_at,
       coalesce(a.assignments, 0)                                            AS assignments
FROM delivery_events r
LEFT JOIN LATERAL (SELECT occurred_at, drone_id, count(*) OVER () AS assignments
                   FROM delivery_events e
                   WHERE e.delivery_id = r.delivery_id AND e.event_type = 'DroneAssigned'
                   ORDER BY sequence DESC LIMIT 1) a ON true
LEFT JOIN delivery_events p  ON p.delivery_id = r.delivery_id AND p.event_type = 'PickedUp'
LEFT JOIN delivery_events dl ON dl.delivery_id = r.delivery_id AND dl.event_type = 'Delivered'
LEFT JOIN delivery_events c  ON c.delivery_id = r.delivery_id AND c.event_type = 'DeliveryCancelled'
LEFT JOIN delivery_events f  ON f.delivery_id = r.delivery_id AND f.event_type = 'DeliveryFailed'
LEFT JOIN LATERAL (SELECT observed_at, eta FROM tracking t
                   WHERE t.delivery_id = r.delivery_id AND t.eta IS NOT NULL
                   ORDER BY observed_at, sequence LIMIT 1) promise ON true
WHERE r.event_type = 'DeliveryRequested';
COMMENT ON VIEW delivery_timeline_view IS
    'Per delivery: requested, (last) assigned, picked up, delivered, cancelled or failed, '
    'the first ETA promised, how late against it, whether on time (at most 60 s late), '
    'and how many times it was assigned.';
