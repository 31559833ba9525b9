-- 0070: history bounded in time on both paths; roll-ups whose refresh does not grow with it.
--
-- Plain PostgreSQL (issue 18, part 3). Until now `telemetry` and `tracking` were single
-- tables that only grew (6 million fixes took 1.46 GB; a day of a 10,000-drone fleet
-- would be 210 GB), and `drone_minute_stats` a materialized view whose refresh
-- re-aggregated every fix (4.4 s at 6 million fixes, every 30 s). Now:
--
-- * `telemetry` and `tracking` are range-partitioned on `observed_at` by the UTC hour
--   (partitions `<table>_pYYYYMMDDtHH`). Why an hour: the index that takes random inserts
--   (the primary key, led by the drone or the delivery) is only hot in the partitions
--   being written, and Timescale's sizing rule (those indexes fit in a quarter of
--   memory) gives about an hour at 10,000 fixes/s (36 million rows, ~2 GB of primary
--   key). Retention drops whole partitions (`projections.partitions`), no DELETE.
-- * Partitions are created ahead by the sink's periodic maintenance and, for a fix
--   whose hour has none (a replay, a rebuild of old history), by the sink's writer in
--   the batch's transaction (`projections.partitions`). A DEFAULT partition catches
--   rows written by anything else (SQL by hand, test data); the maintenance moves them
--   into their hour's partition when it creates it, and empties it by retention.
-- * A BRIN index on `observed_at`: rows arrive in time order, so a few hundred bytes per
--   partition serve every time-range scan (the roll-up's refresh, an analyst's hour
--   over the fleet), where a B-tree would cost as much as the primary key.
-- * `drone_minute_stats` becomes a table (partitioned by UTC day on `minute`, its own
--   retention) maintained incrementally: the sink notes the minutes each batch wrote
--   fixes into (`drone_minute_pending`, same transaction as the fixes) and the refresh
--   re-aggregates only those minutes (`projections.rollups`): its cost is the fixes of
--   the minutes that changed, whatever the length of the history.
--
-- Existing rows are kept, without copying them: the old `telemetry` (and `tracking`)
-- becomes the partition `<table>_before_0070` for everything up to the end of the
-- current hour (or of its newest row); retention drops it as a whole once that is
-- older than the retention. Readers' views are recreated as they were (same names,
-- columns and definitions) over the new tables. An empty old table (a new database,
-- a rebuild's shadow schema) is simply replaced.
--
-- TimescaleDB: the hypertables' chunk interval becomes an hour (the same rule; the
-- 1-day interval of 0002 was 864 million rows a chunk at 10,000 drones), chunks are
-- compressed after 3 hours (late fixes are accepted up to an hour), raw telemetry is
-- kept 7 days and tracking 30 (compressed, about a tenth of the plain size), and the
-- continuous aggregate `drone_minute_stats` (refresh policy every minute, 0002) keeps
-- the per-minute history beyond that.

DO $migration$
DECLARE
    origin CONSTANT timestamptz := TIMESTAMPTZ '2000-01-03 00:00:00+00';
    saved record;
    views jsonb := '[]'::jsonb;
    pending jsonb;
    left_over jsonb;
    t text;
    newest timestamptz;
    bound timestamptz;
    hour timestamptz;
    day timestamptz;
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') THEN
        PERFORM set_chunk_time_interval('telemetry', INTERVAL '1 hour');
        PERFORM set_chunk_time_interval('tracking', INTERVAL '1 hour');
        PERFORM remove_compression_policy('telemetry', if_exists => true);
        PERFORM remove_compression_policy('tracking', if_exists => true);
        PERFORM add_compression_policy('telemetry', INTERVAL '3 hours');
        PERFORM add_compression_policy('tracking', INTERVAL '3 hours');
        PERFORM remove_retention_policy('telemetry', if_exists => true);
        PERFORM remove_retention_policy('tracking', if_exists => true);
        PERFORM add_retention_policy('telemetry', INTERVAL '7 days');
        PERFORM add_retention_policy('tracking', INTERVAL '30 days');
        RETURN;
    END IF;
    IF (SELECT relkind FROM pg_class WHERE oid = to_regclass('telemetry')) = 'p' THEN
        RETURN;  -- converted already
    END IF;

    -- Every view over the three relations (and views over those views), to recreate.
    FOR saved IN
        WITH RECURSIVE dependents(oid) AS (
            SELECT r.ev_class FROM pg_depend d
            JOIN pg_rewrite r ON d.classid = 'pg_rewrite'::regclass AND r.oid = d.objid
            WHERE d.refclassid = 'pg_class'::regclass AND r.ev_class <> d.refobjid
              AND d.refobjid IN (to_regclass('telemetry'), to_regclass('tracking'),
                                 to_regclass('drone_minute_stats'))
            UNION
            SELECT r.ev_class FROM dependents x
            JOIN pg_depend d ON d.refclassid = 'pg_class'::regclass AND d.refobjid = x.oid
            JOIN pg_rewrite r ON d.classid = 'pg_rewrite'::regclass AND r.oid = d.objid
            WHERE r.ev_class <> x.oid
        )
        SELECT c.relname, pg_get_viewdef(c.oid) AS definition,
               obj_description(c.oid, 'pg_class') AS note
        FROM pg_class c WHERE c.oid IN (SELECT oid FROM dependents) AND c.relkind = 'v'
        ORDER BY c.oid
    LOOP
        views := views || jsonb_build_array(to_jsonb(saved));
    END LOOP;
    FOR saved IN SELECT value->>'relname' AS relname FROM jsonb_array_elements(views) LOOP
        EXECUTE format('DROP VIEW IF EXISTS %I CASCADE', saved.relname);
    END LOOP;

    -- The materialized roll-up over the old telemetry gives way to a table (below).
    DROP MATERIALIZED VIEW IF EXISTS drone_minute_stats;

    -- telemetry and tracking: partitioned by hour; the old table kept as one partition.
    FOREACH t IN ARRAY ARRAY['telemetry', 'tracking'] LOOP
        EXECUTE format('ALTER TABLE %I RENAME TO %I', t, t || '_before_0070');
        EXECUTE format('ALTER TABLE %I RENAME CONSTRAINT %I TO %I',
                       t || '_before_0070', t || '_pkey', t || '_before_0070_pkey');
        EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS'
                       ' INCLUDING STORAGE INCLUDING COMMENTS) PARTITION BY RANGE (observed_at)',
                       t, t || '_before_0070');
        IF t = 'telemetry' THEN
            ALTER TABLE telemetry ADD PRIMARY KEY (drone_id, observed_at, sequence);
            ALTER INDEX telemetry_delivery_idx RENAME TO telemetry_before_0070_delivery_idx;
            CREATE INDEX telemetry_delivery_idx ON telemetry (delivery_id, observed_at)
                WHERE delivery_id IS NOT NULL;
            COMMENT ON TABLE telemetry IS
                'Accepted fixes, range-partitioned by UTC hour of observed_at (0070).';
        ELSE
            ALTER TABLE tracking ADD PRIMARY KEY (delivery_id, observed_at, sequence);
            COMMENT ON TABLE tracking IS
                'Tracking updates, range-partitioned by UTC hour of observed_at (0070).';
        END IF;
        -- autosummarize: a filled block range is summarized by autovacuum soon after, not at
        -- the next VACUUM (an unsummarized range is read whole by every range scan).
        EXECUTE format('CREATE INDEX %I ON %I USING brin (observed_at)'
                       ' WITH (pages_per_range = 32, autosummarize = on)', t || '_observed_brin', t);
        EXECUTE format('SELECT max(observed_at) FROM %I', t || '_before_0070') INTO newest;
        IF newest IS NULL THEN
            EXECUTE format('DROP TABLE %I', t || '_before_0070');
        ELSE
            bound := date_bin(INTERVAL '1 hour', greatest(newest, now()), origin) + INTERVAL '1 hour';
            EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (MINVALUE) TO (%L)',
                           t, t || '_before_0070', bound);
        END IF;
        EXECUTE format('CREATE TABLE %I PARTITION OF %I DEFAULT', t || '_default', t);
        -- The current hour and the next two: what `projections.partitions` keeps ahead.
        FOR i IN 0..2 LOOP
            hour := date_bin(INTERVAL '1 hour', now(), origin) + i * INTERVAL '1 hour';
            IF bound IS NULL OR hour >= bound THEN
                EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
                               t || '_p' || to_char(hour AT TIME ZONE 'UTC', 'YYYYMMDD"t"HH24'),
                               t, hour, hour + INTERVAL '1 hour');
            END IF;
        END LOOP;
        bound := NULL;
    END LOOP;

    -- drone_minute_stats: a table maintained incrementally, partitioned by UTC day.
    CREATE TABLE drone_minute_stats (
        drone_id        text             NOT NULL,
        minute          timestamptz      NOT NULL,
        fixes           bigint           NOT NULL,
        avg_speed_mps   double precision,
        max_speed_mps   double precision,
        min_battery_pct double precision,
        max_battery_pct double precision,
        first_fix_at    timestamptz,
        last_fix_at     timestamptz,
        -- 0002's name for the matview's unique index: its CREATE ... IF NOT EXISTS, run
        -- again, then finds it and adds no second index.
        CONSTRAINT drone_minute_stats_key PRIMARY KEY (drone_id, minute)
    ) PARTITION BY RANGE (minute);
    CREATE INDEX drone_minute_stats_minute_brin ON drone_minute_stats USING brin (minute)
        WITH (pages_per_range = 32, autosummarize = on);
    COMMENT ON TABLE drone_minute_stats IS
        'Per drone and UTC minute: the fixes'' aggregates; only the minutes noted in '
        'drone_minute_pending are re-aggregated (projections.rollups). Partitioned by UTC day.';
    CREATE TABLE drone_minute_stats_default PARTITION OF drone_minute_stats DEFAULT;
    FOR day IN SELECT DISTINCT date_bin(INTERVAL '1 day', observed_at, origin) FROM telemetry
               UNION SELECT date_bin(INTERVAL '1 day', now(), origin) LOOP
        EXECUTE format('CREATE TABLE %I PARTITION OF drone_minute_stats FOR VALUES FROM (%L) TO (%L)',
                       'drone_minute_stats_p' || to_char(day AT TIME ZONE 'UTC', 'YYYYMMDD'),
                       day, day + INTERVAL '1 day');
    END LOOP;
    INSERT INTO drone_minute_stats
    SELECT drone_id, date_bin(INTERVAL '1 minute', observed_at, origin) AS minute,
           count(*), avg(ground_speed_mps), max(ground_speed_mps), min(battery_pct),
           max(battery_pct), min(observed_at), max(observed_at)
    FROM telemetry GROUP BY 1, 2;

    CREATE TABLE drone_minute_pending (
        id     bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        minute timestamptz NOT NULL
    );
    COMMENT ON TABLE drone_minute_pending IS
        'Minutes that received fixes since the roll-up last re-aggregated them; written by '
        'the sink with the fixes, consumed by projections.rollups (by id, so a minute noted '
        'again while a refresh runs is kept for the next one).';

    -- The views, as they were: a view over another one waits for it.
    pending := views;
    WHILE jsonb_array_length(pending) > 0 LOOP
        left_over := '[]'::jsonb;
        FOR saved IN SELECT value->>'relname' AS relname, value->>'definition' AS definition,
                            value->>'note' AS note
                     FROM jsonb_array_elements(pending) LOOP
            BEGIN
                EXECUTE format('CREATE VIEW %I AS %s', saved.relname, saved.definition);
                IF saved.note IS NOT NULL THEN
                    EXECUTE format('COMMENT ON VIEW %I IS %L', saved.relname, saved.note);
                END IF;
            EXCEPTION WHEN undefined_table THEN
                left_over := left_over || jsonb_build_array(jsonb_build_object(
                    'relname', saved.relname, 'definition', saved.definition, 'note', saved.note));
            END;
        END LOOP;
        IF jsonb_array_length(left_over) = jsonb_array_length(pending) THEN
            RAISE EXCEPTION 'cannot recreate views %', left_over;
        END IF;
        pending := left_over;
    END LOOP;
END
$migration$;
