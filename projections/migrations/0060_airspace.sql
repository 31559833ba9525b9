-- 0060: the airspace (the airspace topic's AirspacePublished events): every version
-- published, and the view of the one in force, which the dashboard's maps draw.

CREATE TABLE IF NOT EXISTS airspace_versions (
    airspace_id  text        NOT NULL,
    sequence     int8        NOT NULL,
    event_id     text        NOT NULL UNIQUE,
    name         text        NOT NULL,
    published_at timestamptz NOT NULL,
    range_m      float8      NOT NULL,
    payload      jsonb       NOT NULL,
    PRIMARY KEY (airspace_id, sequence)
);
COMMENT ON TABLE airspace_versions IS
    'Archive of the airspace topic: one row per version of the airspace, the whole event '
    'in payload (zones, depots, service area, range).';

-- The read contract ------------------------------------------------------------------

CREATE OR REPLACE VIEW airspace_view AS
SELECT airspace_id,
       sequence                 AS version,
       name,
       published_at,
       range_m,
       payload -> 'zones'        AS zones,
       payload -> 'depots'       AS depots,
       payload -> 'service_area' AS service_area
FROM airspace_versions
ORDER BY published_at DESC, sequence DESC
LIMIT 1;
COMMENT ON VIEW airspace_view IS
    'The airspace in force (the last version published): no-fly zones, depots and the '
    'service area as JSON ({name, boundary: [{lat, lon}]}, {name, position: {lat, lon}}, '
    '[{lat, lon}]), and the fleet''s range in metres.';
