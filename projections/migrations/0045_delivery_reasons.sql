-- 0045: why a delivery was rescheduled, failed or cancelled, for its customer.
-- The reason sat in the event archive only (delivery_events.payload ->> 'reason', see
-- 0040); the live map and the tracking socket tell the customer in words, after a
-- reload or an API restart too, so the reason joins the read contract as a view of its
-- own (a new view: no existing view's columns change, every migration still runs again
-- in order). One row per event that carries a reason.

CREATE OR REPLACE VIEW delivery_reasons_view AS
SELECT delivery_id,
       sequence,
       CASE event_type
           WHEN 'DeliveryRescheduled' THEN 'rescheduled'
           WHEN 'DeliveryFailed'      THEN 'failed'
           WHEN 'DeliveryCancelled'   THEN 'cancelled'
       END                 AS status,
       occurred_at,
       payload ->> 'reason' AS reason
FROM delivery_events
WHERE event_type IN ('DeliveryRescheduled', 'DeliveryFailed', 'DeliveryCancelled');
COMMENT ON VIEW delivery_reasons_view IS
    'Why each delivery was rescheduled, failed or cancelled: one row per such event.';
