-- 0051: `delivery_hourly_outcomes` counts each delivery once, however often it was assigned.
--
-- 0002's roll-up LEFT JOINed every `DroneAssigned` of a delivery, so a delivery that was
-- rescheduled (a drone gave it up before the pickup, 0040) and assigned again was
-- counted twice in `requested`, `assigned` and, once delivered, in `delivered` and the
-- average. 0040 and 0042 fixed the status and timeline views the same way: whether a
-- delivery was ever assigned is an EXISTS, not a join. `requested`, `assigned` and
-- `delivered` are now counts of deliveries. A materialized view cannot be redefined in
-- place, so it and its view are dropped and created again with the same names, columns
-- and unique key (nothing else depends on them; the sink refreshes it CONCURRENTLY as
-- before). Idempotent: the file runs again as it ran first.

DROP VIEW IF EXISTS delivery_hourly_outcomes_view;
DROP MATERIALIZED VIEW IF EXISTS delivery_hourly_outcomes;

CREATE MATERIALIZED VIEW delivery_hourly_outcomes AS
SELECT date_bin(INTERVAL '1 hour', r.occurred_at, TIMESTAMPTZ '2000-01-03 00:00:00+00') AS hour,
       count(*)                                                            AS requested,
       count(*) FILTER (WHERE EXISTS (
           SELECT 1 FROM delivery_events a
           WHERE a.delivery_id = r.delivery_id AND a.event_type = 'DroneAssigned'))
                                                                           AS assigned,
       count(d.delivery_id)                                                AS delivered,
       avg(extract(epoch FROM d.occurred_at - r.occurred_at)::double precision / 60.0)
                                                                           AS avg_minutes_to_deliver,
       max(extract(epoch FROM d.occurred_at - r.occurred_at)::double precision / 60.0)
                                                                           AS max_minutes_to_deliver
FROM delivery_events r
LEFT JOIN delivery_events d ON d.delivery_id = r.delivery_id AND d.event_type = 'Delivered'
WHERE r.event_type = 'DeliveryRequested'
GROUP BY 1
WITH DATA;
CREATE UNIQUE INDEX delivery_hourly_outcomes_key ON delivery_hourly_outcomes (hour);

CREATE VIEW delivery_hourly_outcomes_view AS
SELECT hour, requested, assigned, delivered, avg_minutes_to_deliver, max_minutes_to_deliver
FROM delivery_hourly_outcomes;
COMMENT ON VIEW delivery_hourly_outcomes_view IS
    'Per UTC hour of request: deliveries requested, assigned (at least once), delivered; '
    'minutes to deliver. Each delivery counts once, however often it was rescheduled.';
