"""Events to rows: which table an event lands in and with which values. Pure.

Column lists here are the single definition of each table's COPY layout; `sink` uses
them for the binary COPY's types and for the staging-to-table insert.

`drone_latest` is state, not history: one row per drone, its newest accepted fix, with
the same columns as `telemetry`. `newest_per_drone` picks a batch's newest fix of each
drone (by `observed_at`, then `sequence`: the order `drone_latest_view` always had), and
`LATEST_UPSERT` moves a drone's row only forward in time, so the table is the maximum
over every fix written, whatever order or how many times they arrive (a replay or a
rebuild gives the same rows).

`delivery_current` is state too: one row per delivery. `EVENTS_FOLD` re-folds the events
of the deliveries a batch touched (from `delivery_events`, so the order they came in does
not matter) and `TRACKING_UPSERT` moves the latest tracking update forward with
`newest_per_delivery`'s rows; both only forward (by version, by observed_at), so live,
a replay and a rebuild agree.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import msgspec

from contracts import (
    DELIVERY_EVENT_TYPES,
    AirspacePublished,
    BusinessRegistered,
    DeadLetter,
    Event,
    TelemetryReported,
    TrackingUpdated,
    WebhookEndpointDeleted,
    WebhookEndpointRegistered,
    WebhookEndpointUpdated,
)


@dataclass(frozen=True, slots=True)
class TableLayout:
    """A projected table: its columns and their PostgreSQL types, in COPY order."""

    name: str
    columns: tuple[tuple[str, str], ...]

    @property
    def column_names(self) -> tuple[str, ...]:
        """Column names in COPY order."""
        return tuple(name for name, _ in self.columns)

    @property
    def column_types(self) -> list[str]:
        """PostgreSQL type names in COPY order (binary COPY needs them)."""
        return [kind for _, kind in self.columns]


TELEMETRY = TableLayout(
    "telemetry",
    (
        ("drone_id", "text"),
        ("sequence", "int8"),
        ("observed_at", "timestamptz"),
        ("recorded_at", "timestamptz"),
        ("event_id", "text"),
        ("delivery_id", "text"),
        ("lat", "float8"),
        ("lon", "float8"),
        ("altitude_m", "float8"),
        ("ground_speed_mps", "float8"),
        ("heading_deg", "float8"),
        ("battery_pct", "float8"),
        ("phase", "text"),
    ),
)
TRACKING = TableLayout(
    "tracking",
    (
        ("delivery_id", "text"),
        ("sequence", "int8"),
        ("observed_at", "timestamptz"),
        ("event_id", "text"),
        ("source_event_id", "text"),
        ("drone_id", "text"),
        ("lat", "float8"),
        ("lon", "float8"),
        ("altitude_m", "float8"),
        ("ground_speed_mps", "float8"),
        ("status", "text"),
        ("remaining_m", "float8"),
        ("eta", "timestamptz"),
        ("eta_earliest", "timestamptz"),
        ("eta_latest", "timestamptz"),
    ),
)
DELIVERY_EVENTS = TableLayout(
    "delivery_events",
    (
        ("delivery_id", "text"),
        ("sequence", "int8"),
        ("event_id", "text"),
        ("event_type", "text"),
        ("occurred_at", "timestamptz"),
        ("recorded_at", "timestamptz"),
        ("drone_id", "text"),
        ("payload", "jsonb"),
    ),
)
DEAD_LETTERS = TableLayout(
    "dead_letters",
    (
        ("source_topic", "text"),
        ("source_partition", "int4"),
        ("source_offset", "int8"),
        ("processor", "text"),
        ("reason", "text"),
        ("detail", "text"),
        ("key", "bytea"),
        ("value", "bytea"),
        ("refused_at", "timestamptz"),
    ),
)
BUSINESSES = TableLayout(
    "businesses",
    (
        ("business_id", "text"),
        ("event_id", "text"),
        ("name", "text"),
        ("contact", "text"),
        ("key_id", "text"),
        ("key_sha256", "text"),
        ("registered_at", "timestamptz"),
    ),
)
AIRSPACE_VERSIONS = TableLayout(
    "airspace_versions",
    (
        ("airspace_id", "text"),
        ("sequence", "int8"),
        ("event_id", "text"),
        ("name", "text"),
        ("published_at", "timestamptz"),
        ("range_m", "float8"),
        ("payload", "jsonb"),
    ),
)
WEBHOOK_ENDPOINT_EVENTS = TableLayout(
    "webhook_endpoint_events",
    (
        ("endpoint_id", "text"),
        ("sequence", "int8"),
        ("event_id", "text"),
        ("event_type", "text"),
        ("business_id", "text"),
        ("recorded_at", "timestamptz"),
        ("payload", "jsonb"),
    ),
)
"""Appended like the others; `webhook_endpoints_view` folds each endpoint's newest."""
LAYOUTS = (
    TELEMETRY,
    TRACKING,
    DELIVERY_EVENTS,
    DEAD_LETTERS,
    BUSINESSES,
    AIRSPACE_VERSIONS,
    WEBHOOK_ENDPOINT_EVENTS,
)
DRONE_LATEST = TableLayout("drone_latest", TELEMETRY.columns)
"""Upserted (`LATEST_UPSERT`), not appended like the `LAYOUTS`."""

LATEST_UPSERT = (
    "ON CONFLICT (drone_id) DO UPDATE SET "
    + ", ".join(f"{name} = EXCLUDED.{name}" for name in TELEMETRY.column_names[1:])
    + " WHERE (EXCLUDED.observed_at, EXCLUDED.sequence)"
    " > (drone_latest.observed_at, drone_latest.sequence)"
)
"""The conflict clause of every insert into `drone_latest`: only a newer fix replaces a row."""

EVENTS_FOLD = """\
INSERT INTO delivery_current (delivery_id, business_id, status, pickup_lat, pickup_lon,
                              dropoff_lat, dropoff_lon, requested_at, drone_id,
                              delivered_at, cancelled_at, version)
SELECT d.delivery_id,
       r.payload ->> 'business_id',
       CASE last.event_type
           WHEN 'DeliveryRequested'   THEN 'requested'
           WHEN 'DroneAssigned'       THEN 'assigned'
           WHEN 'PickedUp'            THEN 'picked_up'
           WHEN 'Delivered'           THEN 'delivered'
           WHEN 'DeliveryCancelled'   THEN 'cancelled'
           WHEN 'DeliveryRescheduled' THEN 'rescheduled'
           WHEN 'DeliveryFailed'      THEN 'failed'
       END,
       (r.payload -> 'pickup' ->> 'lat')::double precision,
       (r.payload -> 'pickup' ->> 'lon')::double precision,
       (r.payload -> 'dropoff' ->> 'lat')::double precision,
       (r.payload -> 'dropoff' ->> 'lon')::double precision,
       r.occurred_at,
       CASE WHEN last.event_type = 'DeliveryRescheduled' THEN NULL ELSE a.drone_id END,
       dl.occurred_at,
       c.occurred_at,
       last.sequence
FROM {deliveries}
JOIN LATERAL (SELECT event_type, sequence FROM delivery_events e
              WHERE e.delivery_id = d.delivery_id ORDER BY sequence DESC LIMIT 1) last ON true
LEFT JOIN LATERAL (SELECT payload, occurred_at FROM delivery_events e
                   WHERE e.delivery_id = d.delivery_id AND e.event_type = 'DeliveryRequested'
                   ORDER BY sequence LIMIT 1) r ON true
LEFT JOIN LATERAL (SELECT drone_id FROM delivery_events e
                   WHERE e.delivery_id = d.delivery_id AND e.event_type = 'DroneAssigned'
                   ORDER BY sequence DESC LIMIT 1) a ON true
LEFT JOIN LATERAL (SELECT occurred_at FROM delivery_events e
                   WHERE e.delivery_id = d.delivery_id AND e.event_type = 'Delivered'
                   ORDER BY sequence LIMIT 1) dl ON true
LEFT JOIN LATERAL (SELECT occurred_at FROM delivery_events e
                   WHERE e.delivery_id = d.delivery_id AND e.event_type = 'DeliveryCancelled'
                   ORDER BY sequence LIMIT 1) c ON true
ON CONFLICT (delivery_id) DO UPDATE SET
    business_id = EXCLUDED.business_id, status = EXCLUDED.status,
    pickup_lat = EXCLUDED.pickup_lat, pickup_lon = EXCLUDED.pickup_lon,
    dropoff_lat = EXCLUDED.dropoff_lat, dropoff_lon = EXCLUDED.dropoff_lon,
    requested_at = EXCLUDED.requested_at, drone_id = EXCLUDED.drone_id,
    delivered_at = EXCLUDED.delivered_at, cancelled_at = EXCLUDED.cancelled_at,
    version = EXCLUDED.version
WHERE delivery_current.version IS NULL OR EXCLUDED.version >= delivery_current.version"""
"""Re-fold the events of the deliveries in `{deliveries}` (a FROM item `d(delivery_id)`,
each delivery once) into `delivery_current`: the expressions of 0040's status view, over
the stored events, so the result does not depend on the order events arrived in. Only a
fold at least as new (`version`, the latest sequence) replaces a row. Migration 0075's
backfill is the same statement over every delivery."""

TRACKING_CURRENT_COLUMNS = (
    ("delivery_id", "text"),
    ("latest_eta", "timestamptz"),
    ("latest_lat", "float8"),
    ("latest_lon", "float8"),
    ("remaining_m", "float8"),
    ("latest_fix_at", "timestamptz"),
    ("latest_fix_sequence", "int8"),
)
"""`delivery_current`'s tracking half, in the order of `newest_per_delivery`'s rows."""

TRACKING_UPSERT = """\
INSERT INTO delivery_current (delivery_id, latest_eta, latest_lat, latest_lon, remaining_m,
                              latest_fix_at, latest_fix_sequence)
SELECT * FROM {updates}
ON CONFLICT (delivery_id) DO UPDATE SET
    latest_eta = EXCLUDED.latest_eta, latest_lat = EXCLUDED.latest_lat,
    latest_lon = EXCLUDED.latest_lon, remaining_m = EXCLUDED.remaining_m,
    latest_fix_at = EXCLUDED.latest_fix_at, latest_fix_sequence = EXCLUDED.latest_fix_sequence
WHERE delivery_current.latest_fix_at IS NULL
   OR (EXCLUDED.latest_fix_at, EXCLUDED.latest_fix_sequence)
      > (delivery_current.latest_fix_at, delivery_current.latest_fix_sequence)"""
"""Move each delivery's latest tracking update forward to `{updates}`'s (a FROM item with
`TRACKING_CURRENT_COLUMNS`, each delivery once), only if newer by observed_at then
sequence, like `LATEST_UPSERT`: the maximum over every update, in any order."""

Row = tuple[Any, ...]


def to_row(event: Event) -> tuple[TableLayout, Row] | None:
    """The table and row for an event, or None for events no table keeps."""
    match event:
        case TelemetryReported():
            return TELEMETRY, (
                event.drone_id,
                event.sequence,
                event.occurred_at,
                event.recorded_at,
                event.event_id,
                event.delivery_id,
                event.lat,
                event.lon,
                event.altitude_m,
                event.ground_speed_mps,
                event.heading_deg,
                event.battery_pct,
                event.phase,
            )
        case TrackingUpdated():
            return TRACKING, (
                event.delivery_id,
                event.sequence,
                event.occurred_at,
                event.event_id,
                event.source_event_id,
                event.drone_id,
                event.lat,
                event.lon,
                event.altitude_m,
                event.ground_speed_mps,
                event.status,
                event.remaining_m,
                event.eta,
                event.eta_earliest,
                event.eta_latest,
            )
        case _ if isinstance(event, DELIVERY_EVENT_TYPES):  # the aggregate's, from contracts
            drone_id = getattr(event, "drone_id", None)
            return DELIVERY_EVENTS, (
                event.delivery_id,
                event.sequence,
                event.event_id,
                event.event_type,
                event.occurred_at,
                event.recorded_at,
                drone_id,
                msgspec.to_builtins(event),
            )
        case BusinessRegistered():
            return BUSINESSES, (
                event.business_id,
                event.event_id,
                event.name,
                event.contact,
                event.key_id,
                event.key_sha256,
                event.occurred_at,
            )
        case AirspacePublished():
            return AIRSPACE_VERSIONS, (
                event.airspace_id,
                event.sequence,
                event.event_id,
                event.name,
                event.recorded_at,
                event.range_m,
                msgspec.to_builtins(event),
            )
        case WebhookEndpointRegistered() | WebhookEndpointUpdated() | WebhookEndpointDeleted():
            return WEBHOOK_ENDPOINT_EVENTS, (
                event.endpoint_id,
                event.sequence,
                event.event_id,
                event.event_type,
                event.business_id,
                event.recorded_at,
                msgspec.to_builtins(event),
            )
    return None


def newest_per_drone(telemetry: list[Row]) -> list[Row]:
    """The newest of each drone's `TELEMETRY` rows (by observed_at, then sequence).

    One row per drone, as `INSERT ... ON CONFLICT DO UPDATE` requires (a statement may
    not update a row twice); rows keep `TELEMETRY`'s column order, `DRONE_LATEST`'s too.
    """
    newest: dict[str, Row] = {}
    for row in telemetry:
        held = newest.get(row[0])
        if held is None or (row[2], row[1]) > (held[2], held[1]):
            newest[row[0]] = row
    return list(newest.values())


def newest_per_delivery(tracking: list[Row]) -> list[Row]:
    """The newest of each delivery's `TRACKING` rows, as `TRACKING_CURRENT_COLUMNS` rows.

    Newest by observed_at, then sequence (the order of the status view's latest update);
    one row per delivery, as `INSERT ... ON CONFLICT DO UPDATE` requires.
    """
    newest: dict[str, Row] = {}
    for row in tracking:
        held = newest.get(row[0])
        if held is None or (row[2], row[1]) > (held[2], held[1]):
            newest[row[0]] = row
    return [(row[0], row[12], row[6], row[7], row[11], row[2], row[1]) for row in newest.values()]


def dead_letter_row(letter: DeadLetter) -> Row:
    """The `dead_letters` row of a dead-letter envelope, with the original bytes decoded.

    Bytes rather than base64 text: operators read them with `convert_from(value, 'UTF8')`
    and a replay tool can send them back as they were.
    """
    return (
        letter.source_topic,
        letter.source_partition,
        letter.source_offset,
        letter.processor,
        letter.reason,
        letter.detail,
        base64.b64decode(letter.key_b64) if letter.key_b64 is not None else None,
        letter.original_value(),
        letter.refused_at,
    )
