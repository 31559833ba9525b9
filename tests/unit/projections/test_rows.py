"""Records to rows without Kafka or PostgreSQL: dead letters, tables and topic routing."""

from __future__ import annotations

from datetime import timedelta

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts import DELIVERY_EVENT_TYPES, Event, encode_dead_letter, encode_event
from projections.rows import (
    AIRSPACE_VERSIONS,
    BUSINESSES,
    DEAD_LETTERS,
    DELIVERY_EVENTS,
    TELEMETRY,
    TRACKING,
    TRACKING_CURRENT_COLUMNS,
    WEBHOOK_ENDPOINT_EVENTS,
    TableLayout,
    dead_letter_row,
    newest_per_delivery,
    to_row,
)
from projections.sink import SinkStats, build_rows
from projections.source import Record
from tests.support import projection_dataset
from tests.support.factories import T0, tracking
from tests.support.strategies import EVENT_STRATEGIES

OTHER_TABLES: dict[str, TableLayout | None] = {
    "TelemetryReported": TELEMETRY,
    "TrackingUpdated": TRACKING,
    "BusinessRegistered": BUSINESSES,
    "AirspacePublished": AIRSPACE_VERSIONS,
    "DroneMilestone": None,  # dispatch's, not the read model's
    "LivenessTick": None,  # dispatch's clock, on its own topic
    "DroneLost": None,
    "DroneFound": None,
    "FleetHeard": None,  # the gate's word to dispatch
    "BusinessKeyRotated": None,  # folded from the log by each API process (api/key_ledger.py)
    "BusinessKeyRevoked": None,
    "WebhookEndpointRegistered": WEBHOOK_ENDPOINT_EVENTS,
    "WebhookEndpointUpdated": WEBHOOK_ENDPOINT_EVENTS,
    "WebhookEndpointDeleted": WEBHOOK_ENDPOINT_EVENTS,
    "WebhookRedeliveryRequested": None,  # the notifier's (notifier/routing.py)
}
"""Where each event that is not the delivery aggregate's lands (spelled out: the spec)."""


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


@pytest.mark.parametrize("event_type", sorted(EVENT_STRATEGIES))
@settings(max_examples=20)
@given(data=st.data())
def test_every_delivery_event_and_only_those_land_in_delivery_events(
    event_type: str, data: st.DataObject
) -> None:
    event: Event = data.draw(EVENT_STRATEGIES[event_type])
    row = to_row(event)
    if isinstance(event, DELIVERY_EVENT_TYPES):
        assert row is not None
        layout, values = row
        assert layout is DELIVERY_EVENTS
        columns = dict(zip(layout.column_names, values, strict=True))
        assert (columns["delivery_id"], columns["event_type"]) == (
            event.delivery_id,
            event.event_type,
        )
        assert columns["drone_id"] == getattr(event, "drone_id", None)
        assert columns["payload"] == msgspec.to_builtins(event)
    else:
        assert (row[0] if row else None) is OTHER_TABLES[event.event_type]


def test_newest_per_delivery_keeps_the_latest_update_of_each_in_the_state_columns() -> None:
    updates = [
        tracking("d1", 2, T0 + timedelta(seconds=20), remaining_m=200.0),
        tracking("d1", 3, T0 + timedelta(seconds=20), remaining_m=100.0, eta_in=None),
        tracking("d1", 1, T0 + timedelta(seconds=10), remaining_m=300.0),
        tracking("d2", 1, T0, remaining_m=50.0),
    ]
    placed = [to_row(u) for u in updates]
    newest = {row[0]: row for row in newest_per_delivery([p[1] for p in placed if p])}
    assert set(newest) == {"d1", "d2"}
    assert all(len(row) == len(TRACKING_CURRENT_COLUMNS) for row in newest.values())
    # same instant: the higher sequence wins; its ETA (none) is kept, not an older one
    assert newest["d1"] == (
        "d1",
        None,
        updates[1].lat,
        updates[1].lon,
        100.0,
        T0 + timedelta(seconds=20),
        3,
    )
    assert newest["d2"][1] == updates[3].eta
