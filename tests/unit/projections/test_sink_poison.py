"""The sink survives a corrupted record: found by `make chaos` (a flipped byte killed it).

One flipped byte inside a JSON string (the chaos mode's `corrupt`) makes msgspec raise
UnicodeDecodeError rather than a DecodeError. The sink let it out and died; restarted,
it read the same record again and died again, so the projections stopped for good.
"""

from __future__ import annotations

from contracts import encode_event
from projections.rows import TELEMETRY
from projections.sink import SinkStats, build_rows
from projections.source import Record
from tests.support.factories import fix


def record(value: bytes) -> Record:
    return ("telemetry", value)


def test_a_record_with_invalid_utf8_in_a_string_is_skipped_not_fatal() -> None:
    corrupted = bytearray(encode_event(fix("drone-1", 1)))
    corrupted[corrupted.index(b"drone-1")] = 0x9C  # not a UTF-8 start byte
    good = encode_event(fix("drone-1", 2))
    stats = SinkStats()

    rows = build_rows([record(bytes(corrupted)), record(good)], stats)

    assert stats.undecodable == 1
    assert [row[1] for row in rows[TELEMETRY]] == [2], "the next record is still written"
