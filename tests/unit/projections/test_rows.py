"""Records to rows without Kafka or PostgreSQL: dead letters and the topic routing."""

from __future__ import annotations

from contracts import encode_dead_letter, encode_event
from projections.rows import DEAD_LETTERS, TELEMETRY, dead_letter_row
from projections.sink import SinkStats, build_rows
from projections.source import Record
from tests.support import projection_dataset


def record(topic: str, value: bytes) -> Record:
    return (topic, value)


def test_dead_letter_row_keeps_the_original_bytes_not_base64() -> None:
    letter = projection_dataset.dead_letters()[0]
    row = dict(zip(DEAD_LETTERS.column_names, dead_letter_row(letter), strict=True))
    assert row["key"] == b"k"
    assert row["value"] == b'{"bad": true}'
    assert (row["source_topic"], row["source_offset"], row["processor"]) == (
        "telemetry",
        10,
        "validate-telemetry",
    )


def test_build_rows_routes_the_dead_letter_topic_to_dead_letters() -> None:
    letter = projection_dataset.dead_letters()[0]
    fix = projection_dataset.telemetry()[0]
    stats = SinkStats()
    rows = build_rows(
        [
            record("p-deadletter", encode_dead_letter(letter)),
            record("p-deadletter", b"not an envelope"),
            record("p-telemetry", encode_event(fix)),
        ],
        stats,
        dead_letter_topic="p-deadletter",
    )
    assert rows[DEAD_LETTERS] == [dead_letter_row(letter)]
    assert len(rows[TELEMETRY]) == 1
    assert (stats.records, stats.undecodable) == (3, 1)


def test_an_envelope_on_another_topic_is_not_taken_for_an_event() -> None:
    letter = projection_dataset.dead_letters()[0]
    stats = SinkStats()
    rows = build_rows([record("p-telemetry", encode_dead_letter(letter))], stats, "p-deadletter")
    assert dict(rows) == {}
    assert stats.undecodable == 1
