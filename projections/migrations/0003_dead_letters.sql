-- 0003: the dead-letter topic as a read model, so operators can count and inspect what
-- the processors refused without reading Kafka. One row per refused record and processor;
-- the unique key makes the sink's at-least-once delivery idempotent here too.

CREATE TABLE IF NOT EXISTS dead_letters (
    source_topic     text        NOT NULL,
    source_partition integer     NOT NULL,
    source_offset    bigint      NOT NULL,
    processor        text        NOT NULL,
    reason           text        NOT NULL,
    detail           text        NOT NULL,
    key              bytea,
    value            bytea       NOT NULL,
    refused_at       timestamptz NOT NULL,
    PRIMARY KEY (source_topic, source_partition, source_offset, processor)
);
COMMENT ON TABLE dead_letters IS
    'Archive of the deadletter topic: the refused record''s original bytes and why.';
CREATE INDEX IF NOT EXISTS dead_letters_refused_idx ON dead_letters (refused_at);

-- The read contract ------------------------------------------------------------------

CREATE OR REPLACE VIEW dead_letter_counts_view AS
SELECT reason, processor, source_topic,
       count(*)        AS records,
       min(refused_at) AS first_refused_at,
       max(refused_at) AS last_refused_at
FROM dead_letters
GROUP BY reason, processor, source_topic;
COMMENT ON VIEW dead_letter_counts_view IS
    'Refused records per reason, processor and source topic, with the first and last time.';

CREATE OR REPLACE VIEW dead_letters_view AS
SELECT source_topic, source_partition, source_offset, processor, reason, detail,
       refused_at, key, value
FROM dead_letters;
COMMENT ON VIEW dead_letters_view IS
    'Every refused record: where it came from, who refused it, why, and its original bytes.';
