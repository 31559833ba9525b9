-- 0086: the quote at request time against what happened (issue 19, parts 1 and 5).
--
-- The API quotes every delivery before it records the request, and the quote is in the
-- log: `DeliveryRequested`'s `quoted_at`, `quoted_pickup_at` and `quoted_dropoff_at`
-- (copied from `RequestDelivery` by the aggregate for a keyed request, the first
-- request's quote: a retry changes nothing). The sink keeps the whole event in
-- `delivery_events.payload`, so the quote needs no new column: this view reads it back
-- and holds it against the delivery's `PickedUp` and `Delivered` events, so the
-- dashboard, the notebooks and the accuracy run measure the quote from the read model,
-- not from the API's log lines.
--
-- One row per quoted delivery; requests without a quote (recorded before it, or while
-- the API had no airspace or read model) are not in it: there is nothing to measure.
-- error = quoted - actual in seconds (negative: promised too early), NULL until the
-- delivery is picked up or delivered (and for ever for a cancelled or failed one).
--
-- Plain SQL over the archive, the same on PostgreSQL and TimescaleDB (the conformance
-- tests compare it on both, as every `*_view`); the analysts' role gets it with the
-- others (0052 runs again after every migration). Costs as `delivery_timeline_view`:
-- one delivery O(its events); a time range or the whole view O(deliveries).

CREATE OR REPLACE VIEW delivery_quote_error_view AS
SELECT r.delivery_id,
       r.payload ->> 'business_id'                                         AS business_id,
       (r.payload ->> 'quoted_at')::timestamptz                            AS quoted_at,
       (r.payload ->> 'quoted_pickup_at')::timestamptz                     AS quoted_pickup_at,
       (r.payload ->> 'quoted_dropoff_at')::timestamptz                    AS quoted_dropoff_at,
       p.occurred_at                                                       AS picked_up_at,
       dl.occurred_at                                                      AS delivered_at,
       extract(epoch FROM (r.payload ->> 'quoted_pickup_at')::timestamptz
                          - p.occurred_at)::double precision               AS pickup_error_s,
       extract(epoch FROM (r.payload ->> 'quoted_dropoff_at')::timestamptz
                          - dl.occurred_at)::double precision              AS dropoff_error_s
FROM delivery_events r
LEFT JOIN LATERAL (SELECT occurred_at FROM delivery_events e
                   WHERE e.delivery_id = r.delivery_id AND e.event_type = 'PickedUp'
                   ORDER BY sequence LIMIT 1) p ON true
LEFT JOIN LATERAL (SELECT occurred_at FROM delivery_events e
                   WHERE e.delivery_id = r.delivery_id AND e.event_type = 'Delivered'
                   ORDER BY sequence LIMIT 1) dl ON true
WHERE r.event_type = 'DeliveryRequested' AND r.payload ->> 'quoted_at' IS NOT NULL;
COMMENT ON VIEW delivery_quote_error_view IS
    'Per quoted delivery: the pickup and drop-off promised at request time, when they '
    'happened, and the error in seconds (quoted - actual; negative: promised too early).';
