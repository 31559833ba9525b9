-- 0002: TimescaleDB when the server has it, plain PostgreSQL otherwise; analyst roll-ups.
--
-- With TimescaleDB (detected in pg_available_extensions and loadable): telemetry and
-- tracking become hypertables on observed_at (their primary keys already contain it),
-- with compression and retention policies, and the per-drone-per-minute roll-up is a
-- continuous aggregate kept fresh by a policy plus real-time aggregation.
-- Without it: the same roll-up is an ordinary materialized view that the sink refreshes
-- (CONCURRENTLY, at most every `rollup_refresh_interval_s`).
-- Either way readers see the same views with the same columns and the same results: the
-- roll-up query is written once below and only its time-bucket function differs
-- (time_bucket vs date_bin, equal for minute and hour buckets in UTC).
--
-- The delivery outcomes roll-up is a materialized view on both: it self-joins the event
-- archive (request -> delivery) and delivery_events is not a time-partitioned table
-- (its unique keys do not contain a time), two things continuous aggregates refuse.
--
-- Every statement is idempotent (IF NOT EXISTS, if_not_exists => true), so running the
-- file twice changes nothing.

DO $migration$
DECLARE
    use_timescale boolean := false;
    -- time_bucket(width, ts) on TimescaleDB; date_bin(width, ts, origin) otherwise.
    minute_bucket text;
    minute_rollup text;
BEGIN
    IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb') THEN
        BEGIN
            CREATE EXTENSION IF NOT EXISTS timescaledb;
            use_timescale := true;
        EXCEPTION WHEN OTHERS THEN
            -- Installed but not loadable (typically: missing from shared_preload_libraries).
            RAISE WARNING 'timescaledb is available but cannot be created (%); using plain PostgreSQL',
                SQLERRM;
        END;
    END IF;

    IF use_timescale THEN
        minute_bucket := 'time_bucket(INTERVAL ''1 minute'', observed_at)';
    ELSE
        minute_bucket := 'date_bin(INTERVAL ''1 minute'', observed_at, TIMESTAMPTZ ''2000-01-03 00:00:00+00'')';
    END IF;

    minute_rollup := format($q$
        SELECT drone_id,
               %s                      AS minute,
               count(*)                AS fixes,
               avg(ground_speed_mps)   AS avg_speed_mps,
               max(ground_speed_mps)   AS max_speed_mps,
               min(battery_pct)        AS min_battery_pct,
               max(battery_pct)        AS max_battery_pct,
               min(observed_at)        AS first_fix_at,
               max(observed_at)        AS last_fix_at
        FROM telemetry
        GROUP BY drone_id, minute
    $q$, minute_bucket);

    IF use_timescale THEN
        PERFORM create_hypertable('telemetry', by_range('observed_at', INTERVAL '1 day'),
                                  if_not_exists => true, migrate_data => true);
        PERFORM create_hypertable('tracking', by_range('observed_at', INTERVAL '1 day'),
                                  if_not_exists => true, migrate_data => true);
        -- Segment by the aggregate id: queries read one drone's or one delivery's fixes.
        ALTER TABLE telemetry SET (timescaledb.compress,
                                   timescaledb.compress_segmentby = 'drone_id',
                                   timescaledb.compress_orderby = 'observed_at DESC, sequence DESC');
        ALTER TABLE tracking SET (timescaledb.compress,
                                  timescaledb.compress_segmentby = 'delivery_id',
                                  timescaledb.compress_orderby = 'observed_at DESC, sequence DESC');
        PERFORM add_compression_policy('telemetry', INTERVAL '2 days', if_not_exists => true);
        PERFORM add_compression_policy('tracking', INTERVAL '2 days', if_not_exists => true);
        -- Retention drops whole chunks: no row-by-row DELETE, no long locks.
        PERFORM add_retention_policy('telemetry', INTERVAL '180 days', if_not_exists => true);
        PERFORM add_retention_policy('tracking', INTERVAL '30 days', if_not_exists => true);

        EXECUTE 'CREATE MATERIALIZED VIEW IF NOT EXISTS drone_minute_stats'
             || ' WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS '
             || minute_rollup || ' WITH NO DATA';
        -- The policy materializes the last 3 days every minute; newer buckets come from
        -- real-time aggregation, so readers never wait for the policy.
        PERFORM add_continuous_aggregate_policy('drone_minute_stats',
                                                start_offset => INTERVAL '3 days',
                                                end_offset => INTERVAL '1 minute',
                                                schedule_interval => INTERVAL '1 minute',
                                                if_not_exists => true);
    ELSE
        EXECUTE 'CREATE MATERIALIZED VIEW IF NOT EXISTS drone_minute_stats AS '
             || minute_rollup || ' WITH DATA';
        -- REFRESH ... CONCURRENTLY (readers are never blocked) needs a unique index.
        CREATE UNIQUE INDEX IF NOT EXISTS drone_minute_stats_key
            ON drone_minute_stats (drone_id, minute);
    END IF;
END
$migration$;

-- Deliveries by the hour they were requested in (a cohort): how many were requested,
-- assigned and delivered so far, and how long the delivered ones took.
CREATE MATERIALIZED VIEW IF NOT EXISTS delivery_hourly_outcomes AS
SELECT date_bin(INTERVAL '1 hour', r.occurred_at, TIMESTAMPTZ '2000-01-03 00:00:00+00') AS hour,
       count(*)                                                            AS requested,
       count(a.delivery_id)                                                AS assigned,
       count(d.delivery_id)                                                AS delivered,
       avg(extract(epoch FROM d.occurred_at - r.occurred_at)::double precision / 60.0)
                                                                           AS avg_minutes_to_deliver,
       max(extract(epoch FROM d.occurred_at - r.occurred_at)::double precision / 60.0)
                                                                           AS max_minutes_to_deliver
FROM delivery_events r
LEFT JOIN delivery_events a ON a.delivery_id = r.delivery_id AND a.event_type = 'DroneAssigned'
LEFT JOIN delivery_events d ON d.delivery_id = r.delivery_id AND d.event_type = 'Delivered'
WHERE r.event_type = 'DeliveryRequested'
GROUP BY 1
WITH DATA;
CREATE UNIQUE INDEX IF NOT EXISTS delivery_hourly_outcomes_key ON delivery_hourly_outcomes (hour);
CREATE INDEX IF NOT EXISTS delivery_events_type_idx ON delivery_events (event_type, delivery_id);

-- The read contract ------------------------------------------------------------------

CREATE OR REPLACE VIEW drone_minute_stats_view AS
SELECT drone_id, minute, fixes, avg_speed_mps, max_speed_mps, min_battery_pct,
       max_battery_pct, first_fix_at, last_fix_at,
       avg_speed_mps * extract(epoch FROM last_fix_at - first_fix_at)::double precision
           AS est_distance_m
FROM drone_minute_stats;
COMMENT ON VIEW drone_minute_stats_view IS
    'Per drone and UTC minute: fixes, speed, battery and an estimated distance flown.';

CREATE OR REPLACE VIEW delivery_hourly_outcomes_view AS
SELECT hour, requested, assigned, delivered, avg_minutes_to_deliver, max_minutes_to_deliver
FROM delivery_hourly_outcomes;
COMMENT ON VIEW delivery_hourly_outcomes_view IS
    'Per UTC hour of request: deliveries requested, assigned, delivered; minutes to deliver.';
