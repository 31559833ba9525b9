-- 0001: the first read models, their offset checkpoints and the read contract's views.
-- Base tables are private to the projections; readers use the *_view views only.

CREATE TABLE projection_checkpoints (
    projection  text        NOT NULL,
    topic       text        NOT NULL,
    partition   integer     NOT NULL,
    next_offset bigint      NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (projection, topic, partition)
);
COMMENT ON TABLE projection_checkpoints IS
    'Next Kafka offset to consume per projection and partition, written in the same '
    'transaction as the rows it produced: a crash or a replay adds no duplicates.';

CREATE TABLE telemetry (
    drone_id         text             NOT NULL,
    sequence         bigint           NOT NULL,
    observed_at      timestamptz      NOT NULL,
    recorded_at      timestamptz      NOT NULL,
    event_id         text             NOT NULL,
    delivery_id      text,
    lat              double precision NOT NULL,
    lon              double precision NOT NULL,
    altitude_m       double precision NOT NULL,
    ground_speed_mps double precision NOT NULL,
    heading_deg      double precision NOT NULL,
    battery_pct      double precision NOT NULL,
    phase            text             NOT NULL,
    PRIMARY KEY (drone_id, observed_at, sequence)
);
CREATE INDEX telemetry_delivery_idx ON telemetry (delivery_id, observed_at) WHERE delivery_id IS NOT NULL;

CREATE TABLE tracking (
    delivery_id      text             NOT NULL,
    sequence         bigint           NOT NULL,
    observed_at      timestamptz      NOT NULL,
    event_id         text             NOT NULL,
    source_event_id  text             NOT NULL,
    drone_id         text             NOT NULL,
    lat              double precision NOT NULL,
    lon              double precision NOT NULL,
    altitude_m       double precision NOT NULL,
    ground_speed_mps double precision NOT NULL,
    status           text             NOT NULL,
    remaining_m      double precision NOT NULL,
    eta              timestamptz,
    PRIMARY KEY (delivery_id, observed_at, sequence)
);

CREATE TABLE delivery_events (
    delivery_id  text        NOT NULL,
    sequence     bigint      NOT NULL,
    event_id     text        NOT NULL UNIQUE,
    event_type   text        NOT NULL,
    occurred_at  timestamptz NOT NULL,
    recorded_at  timestamptz NOT NULL,
    drone_id     text,
    payload      jsonb       NOT NULL,
    PRIMARY KEY (delivery_id, sequence)
);
COMMENT ON TABLE delivery_events IS 'Archive of the deliveries topic, one row per event.';

-- The read contract ------------------------------------------------------------------

CREATE VIEW delivery_status_view AS
SELECT d.delivery_id,
       r.payload ->> 'business_id'                                   AS business_id,
       CASE last.event_type
           WHEN 'DeliveryRequested' THEN 'requested'
           WHEN 'DroneAssigned'     THEN 'assigned'
           WHEN 'PickedUp'          THEN 'picked_up'
           WHEN 'Delivered'         THEN 'delivered'
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
       last.sequence                                                 AS version
FROM (SELECT DISTINCT delivery_id FROM delivery_events) d
JOIN LATERAL (SELECT event_type, sequence FROM delivery_events e
              WHERE e.delivery_id = d.delivery_id ORDER BY sequence DESC LIMIT 1) last ON true
LEFT JOIN delivery_events r  ON r.delivery_id = d.delivery_id AND r.event_type = 'DeliveryRequested'
LEFT JOIN delivery_events a  ON a.delivery_id = d.delivery_id AND a.event_type = 'DroneAssigned'
LEFT JOIN delivery_events dl ON dl.delivery_id = d.delivery_id AND dl.event_type = 'Delivered'
LEFT JOIN LATERAL (SELECT eta, lat, lon, remaining_m, observed_at FROM tracking tr
                   WHERE tr.delivery_id = d.delivery_id
                   ORDER BY observed_at DESC, sequence DESC LIMIT 1) t ON true;
COMMENT ON VIEW delivery_status_view IS
    'One row per delivery: its state (fold of its events), the drone, and the latest ETA.';

CREATE VIEW delivery_track_view AS
SELECT delivery_id, sequence, observed_at, drone_id, lat, lon, altitude_m,
       ground_speed_mps, status, remaining_m, eta
FROM tracking;
COMMENT ON VIEW delivery_track_view IS 'The tracking updates of each delivery, in time.';

CREATE VIEW delivery_telemetry_view AS
SELECT delivery_id, drone_id, sequence, observed_at, lat, lon, altitude_m,
       ground_speed_mps, heading_deg, battery_pct, phase
FROM telemetry WHERE delivery_id IS NOT NULL;
COMMENT ON VIEW delivery_telemetry_view IS 'The raw fixes of drones while on a delivery.';

CREATE VIEW drone_latest_view AS
SELECT DISTINCT ON (drone_id)
       drone_id, observed_at, lat, lon, altitude_m, ground_speed_mps, heading_deg,
       battery_pct, phase, delivery_id
FROM telemetry
ORDER BY drone_id, observed_at DESC, sequence DESC;
COMMENT ON VIEW drone_latest_view IS 'The latest fix of every drone.';
