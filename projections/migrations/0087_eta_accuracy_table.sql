-- 0087: issue 19's accuracy table, as the dashboard and the notebooks show it.
--
-- One place for the table's SQL (the dashboard's ETA panel and
-- notebooks/delivery_performance.ipynb both select from this view), the same table
-- benchmarks/eta_accuracy_run.py prints from the log: by UTC day of arrival, one row per
-- lead of `eta_accuracy_view` (1, 5, 10 and 15 minutes still to go, ± 30 s) with the
-- predictions, the median and 90th percentile of the absolute error, the signed median
-- and the share of arrivals inside the window (of the predictions that had one); and the
-- quote's row from `delivery_quote_error_view` (0086): the drop-off error of the
-- deliveries picked up within 15 minutes of their quote and delivered (no window: NULL).
-- A row with no prediction is absent. Errors in seconds, ETA or quote - arrival
-- (negative: promised too early). After 0086, whose view it reads.
--
-- Cost: a day asked scans that day's arrivals' tracking updates and events (the filter
-- on `day` is applied before the percentiles, per group): O(tracking updates of the
-- deliveries delivered that day); the whole view, O(every tracking update of a
-- delivered delivery). For the dashboard's day, not for a live panel refreshed each second.

CREATE OR REPLACE VIEW eta_accuracy_table_view AS
SELECT date_bin(INTERVAL '1 day', delivered_at, TIMESTAMPTZ '2000-01-03 00:00:00+00') AS day,
       lead_min                                                         AS row_order,
       lead_min || ' min'                                               AS lead,
       count(*)                                                         AS predictions,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY abs(error_s))        AS median_abs_s,
       percentile_cont(0.9) WITHIN GROUP (ORDER BY abs(error_s))        AS p90_abs_s,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY error_s)             AS signed_median_s,
       avg(CASE WHEN inside_window THEN 1.0 WHEN NOT inside_window THEN 0.0 END)
           ::double precision                                           AS inside_window_share
FROM eta_accuracy_view
WHERE lead_min IS NOT NULL
GROUP BY 1, 2
UNION ALL
SELECT date_bin(INTERVAL '1 day', delivered_at, TIMESTAMPTZ '2000-01-03 00:00:00+00'),
       99,
       'quote',
       count(*),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY abs(dropoff_error_s)),
       percentile_cont(0.9) WITHIN GROUP (ORDER BY abs(dropoff_error_s)),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY dropoff_error_s),
       NULL::double precision
FROM delivery_quote_error_view
WHERE dropoff_error_s IS NOT NULL AND picked_up_at <= quoted_at + INTERVAL '15 minutes'
GROUP BY 1;
COMMENT ON VIEW eta_accuracy_table_view IS
    'Issue 19''s accuracy table by UTC day of arrival: per lead (1, 5, 10, 15 min) and for '
    'the quote, predictions, median and p90 absolute error, signed median (s) and the '
    'share of arrivals inside the window.';
