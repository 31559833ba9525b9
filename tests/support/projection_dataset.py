"""A small, hand-made data set for the read contract, with answers known in advance.

The same rows feed the view tests (exact numbers) and the TimescaleDB conformance test,
which renders them as INSERT statements (`as_sql`) so that PostgreSQL and PGlite load
byte-identical data. Ids and times are fixed; timestamps are whole seconds because
PGlite hands JavaScript millisecond dates.

What it holds (UTC, on 2026-11-27):
- drone-a: 12:00:00, :20, :40 at 10, 12, 14 m/s, battery 90, 89.5, 89 (on delivery d1);
  12:01:00 and 12:01:30 at 8 and 0 m/s, battery 88 and 87.5.
- drone-b: one idle fix at 12:00:30 (0 m/s, battery 100) and one at 13:05:00 (5 m/s, 70).
- deliveries: d1 requested 12:00, assigned, picked up 12:02, delivered 12:10 (10 min);
  d2 requested 12:30, assigned, delivered 12:50 (20 min); d3 requested 12:45, never
  assigned, cancelled 12:50 ("no longer needed"); d4 requested 13:15, assigned,
  delivered 13:20 (5 min). d1 was quoted at its request (pickup 12:01:30, drop-off
  12:10:30: 30 s early, 30 s late) and d3 (pickup 12:47, drop-off 12:55, never flown).
- tracking: three updates of d1 (12:00:20, 12:00:40, 12:10:00).
- dead letters: two `out_of_range` and one `undecodable` telemetry records refused by
  validate-telemetry, one `illegal_transition` refused by the deliveries processor.
- airspace: version 1 published at 11:00 (range 20 km, no zone), version 2 at 11:30
  (range 15 km, one zone "lake", two depots): version 2 is in force.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from contracts import (
    AirspacePublished,
    BusinessRegistered,
    DeadLetter,
    Delivered,
    DeliveryCancelled,
    DeliveryRequested,
    Depot,
    DroneAssigned,
    DronePhase,
    Event,
    GeoPoint,
    NoFlyZone,
    PickedUp,
    TelemetryReported,
    TrackingUpdated,
    WebhookEndpointRegistered,
    WebhookEndpointUpdated,
)
from projections.rows import (
    DEAD_LETTERS,
    DELIVERY_EVENTS,
    DRONE_LATEST,
    EVENTS_FOLD,
    LATEST_UPSERT,
    TELEMETRY,
    TRACKING,
    TRACKING_CURRENT_COLUMNS,
    TRACKING_UPSERT,
    Row,
    TableLayout,
    dead_letter_row,
    newest_per_delivery,
    to_row,
)

NOON = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
PICKUP = GeoPoint(47.3780, 8.5400)
DROPOFF = GeoPoint(47.3850, 8.5480)
TELEMETRY_TOPIC = "telemetry"
DELIVERIES_TOPIC = "deliveries"


def at(minutes: float) -> datetime:
    """NOON plus some minutes."""
    return NOON + timedelta(minutes=minutes)


def _fix(
    drone: str,
    seq: int,
    when: datetime,
    speed: float,
    battery: float,
    phase: DronePhase = "to_dropoff",
    delivery_id: str | None = "d1",
) -> TelemetryReported:
    return TelemetryReported(
        event_id=f"tel-{drone}-{seq}",
        sequence=seq,
        occurred_at=when,
        recorded_at=when,
        drone_id=drone,
        delivery_id=delivery_id,
        lat=PICKUP.lat + seq / 1000,
        lon=PICKUP.lon,
        altitude_m=60.0,
        ground_speed_mps=speed,
        heading_deg=45.0,
        battery_pct=battery,
        phase=phase,
    )


def telemetry() -> list[TelemetryReported]:
    """The fixes described in the module docstring."""
    return [
        _fix("drone-a", 1, at(0), 10.0, 90.0),
        _fix("drone-a", 2, at(1 / 3), 12.0, 89.5),
        _fix("drone-a", 3, at(2 / 3), 14.0, 89.0),
        _fix("drone-a", 4, at(1), 8.0, 88.0),
        _fix("drone-a", 5, at(1.5), 0.0, 87.5),
        _fix("drone-b", 1, at(0.5), 0.0, 100.0, phase="idle", delivery_id=None),
        _fix("drone-b", 2, at(65), 5.0, 70.0, phase="to_pickup", delivery_id=None),
    ]


def _delivery(
    delivery_id: str,
    requested: float,
    drone: str | None,
    done: float | None,
    quote: tuple[float, float] | None = None,
) -> list[Event]:
    """A delivery's events: requested, then assigned (if a drone), then delivered.

    `quote`: the minutes of the pickup and drop-off it was quoted at its request.
    """
    events: list[Event] = [
        DeliveryRequested(
            event_id=f"{delivery_id}-1",
            sequence=1,
            occurred_at=at(requested),
            recorded_at=at(requested),
            delivery_id=delivery_id,
            business_id="b1",
            pickup=PICKUP,
            dropoff=DROPOFF,
            quoted_at=None if quote is None else at(requested),
            quoted_pickup_at=None if quote is None else at(quote[0]),
            quoted_dropoff_at=None if quote is None else at(quote[1]),
        )
    ]
    if drone is None:
        return events
    events.append(
        DroneAssigned(
            event_id=f"{delivery_id}-2",
            sequence=2,
            occurred_at=at(requested),
            recorded_at=at(requested),
            delivery_id=delivery_id,
            drone_id=drone,
            pickup=PICKUP,
            dropoff=DROPOFF,
        )
    )
    if done is None:
        return events
    events.append(
        PickedUp(
            event_id=f"{delivery_id}-3",
            sequence=3,
            occurred_at=at(requested + 2),
            recorded_at=at(requested + 2),
            delivery_id=delivery_id,
            drone_id=drone,
        )
    )
    events.append(
        Delivered(
            event_id=f"{delivery_id}-4",
            sequence=4,
            occurred_at=at(done),
            recorded_at=at(done),
            delivery_id=delivery_id,
            drone_id=drone,
        )
    )
    return events


def deliveries() -> list[Event]:
    """d1..d4 as described in the module docstring."""
    return [
        *_delivery("d1", 0, "drone-a", 10, quote=(1.5, 10.5)),
        *_delivery("d2", 30, "drone-c", 50),
        *_delivery("d3", 45, None, None, quote=(47, 55)),
        DeliveryCancelled(
            event_id="d3-2",
            sequence=2,
            occurred_at=at(50),
            recorded_at=at(50),
            delivery_id="d3",
            requested_by="b1",
            reason="no longer needed",
        ),
        *_delivery("d4", 75, "drone-b", 80),
    ]


def tracking() -> list[TrackingUpdated]:
    """Three tracking updates of d1."""
    return [
        TrackingUpdated(
            event_id=f"trk-d1-{seq}",
            sequence=seq,
            occurred_at=when,
            recorded_at=when,
            delivery_id="d1",
            source_event_id=f"tel-drone-a-{seq}",
            drone_id="drone-a",
            lat=PICKUP.lat,
            lon=PICKUP.lon,
            altitude_m=60.0,
            ground_speed_mps=speed,
            status=status,
            remaining_m=remaining,
            eta=eta,
        )
        for seq, when, speed, status, remaining, eta in (
            (1, at(1 / 3), 12.0, "en_route_to_dropoff", 600.0, at(10)),
            (2, at(2 / 3), 14.0, "en_route_to_dropoff", 400.0, at(9.5)),
            (3, at(10), 0.0, "delivered", 0.0, None),
        )
    ]


def businesses() -> list[BusinessRegistered]:
    """b1, the business that requested d1..d4."""
    return [
        BusinessRegistered(
            event_id="biz-b1",
            sequence=1,
            occurred_at=at(-60),
            recorded_at=at(-60),
            business_id="b1",
            name="Bakery One",
            contact="ops@bakery.example",
            key_id="00112233aabbccdd",
            key_sha256="ab" * 32,
        )
    ]


def webhook_endpoints() -> list[WebhookEndpointRegistered | WebhookEndpointUpdated]:
    """b1's one webhook endpoint, registered, then updated (described, disabled).

    So that `webhook_endpoints_view` (0080) has a row to compare on TimescaleDB: the
    conformance test refuses an empty view.
    """
    registered = WebhookEndpointRegistered(
        event_id="wh-b1-1",
        sequence=1,
        occurred_at=at(-50),
        recorded_at=at(-50),
        business_id="b1",
        endpoint_id="wh-b1",
        url="https://hooks.bakery.example/dronefleet",
        topics=("delivery.requested", "delivery.delivered"),
    )
    updated = WebhookEndpointUpdated(
        event_id="wh-b1-2",
        sequence=2,
        occurred_at=at(-40),
        recorded_at=at(-40),
        business_id="b1",
        endpoint_id="wh-b1",
        url="https://hooks.bakery.example/dronefleet",
        topics=("delivery.delivered",),
        description="shop till",
        enabled=False,
    )
    return [registered, updated]


def airspace() -> list[AirspacePublished]:
    """Two versions of a small airspace; the second is in force."""
    area = (GeoPoint(47.30, 8.45), GeoPoint(47.30, 8.65), GeoPoint(47.45, 8.65))
    lake = NoFlyZone("lake", (GeoPoint(47.35, 8.54), GeoPoint(47.35, 8.55), GeoPoint(47.36, 8.55)))
    depots = (Depot("Hauptbahnhof", PICKUP), Depot("Seefeld", GeoPoint(47.3667, 8.5500)))

    def version(sequence: int, minute: float, range_m: float) -> AirspacePublished:
        return AirspacePublished(
            event_id=f"airspace-{sequence}",
            sequence=sequence,
            occurred_at=at(minute),
            recorded_at=at(minute),
            airspace_id="platform",
            name="zurich",
            zones=(lake,) if sequence > 1 else (),
            depots=depots if sequence > 1 else depots[:1],
            service_area=area,
            range_m=range_m,
        )

    return [version(1, -60, 20_000.0), version(2, -30, 15_000.0)]


def dead_letters() -> list[DeadLetter]:
    """Four refused records: three telemetry (two reasons), one delivery event."""

    def letter(topic: str, offset: int, processor: str, reason: str, minute: float) -> DeadLetter:
        return DeadLetter.wrap(
            source_topic=topic,
            source_partition=0,
            source_offset=offset,
            processor=processor,
            reason=reason,
            detail=f"{reason} at offset {offset}",
            key=b"k",
            value=b'{"bad": true}',
            refused_at=at(minute),
        )

    return [
        letter(TELEMETRY_TOPIC, 10, "validate-telemetry", "out_of_range", 1),
        letter(TELEMETRY_TOPIC, 11, "validate-telemetry", "out_of_range", 2),
        letter(TELEMETRY_TOPIC, 12, "validate-telemetry", "undecodable", 3),
        letter(DELIVERIES_TOPIC, 5, "deliveries", "illegal_transition", 4),
    ]


def rows() -> list[tuple[TableLayout, Row]]:
    """Every row of the data set, in load order."""
    placed: list[tuple[TableLayout, Row]] = []
    for event in [
        *telemetry(),
        *deliveries(),
        *tracking(),
        *businesses(),
        *airspace(),
        *webhook_endpoints(),
    ]:
        row = to_row(event)
        assert row is not None, event
        placed.append(row)
    placed.extend((DEAD_LETTERS, dead_letter_row(letter)) for letter in dead_letters())
    return placed


WINDOW_COLUMNS = frozenset({"eta_earliest", "eta_latest"})
"""`tracking`'s columns since 0085 (the ETA's window)."""


def as_sql(
    placed: Iterable[tuple[TableLayout, Row]],
    delivery_current: bool = True,
    eta_window: bool = True,
) -> str:
    """INSERT statements, the way the sink writes the rows.

    Appended tables get `ON CONFLICT DO NOTHING`; every telemetry row is also upserted
    into `drone_latest` with the sink's own conflict clause (`LATEST_UPSERT`: only a
    newer fix replaces a drone's row), so the state table matches the history; every
    delivery event re-folds its delivery into `delivery_current` (`EVENTS_FOLD`) and
    every tracking update moves its delivery's latest update forward (`TRACKING_UPSERT`),
    the sink's own statements with the one delivery as their input. Without
    `delivery_current` (a database migrated only up to before 0075, whose own backfill
    is under test) those two are left out. Without `eta_window` (a database from before
    0085) the tracking rows are written without the window's columns.
    """
    statements = []
    for layout, row in placed:
        leave_out = WINDOW_COLUMNS if layout == TRACKING and not eta_window else frozenset()
        statements.append(_insert(layout, row, "ON CONFLICT DO NOTHING", leave_out))
        if layout == TELEMETRY:
            statements.append(_insert(DRONE_LATEST, row, LATEST_UPSERT))
        elif layout == DELIVERY_EVENTS and delivery_current:
            one = f"(VALUES (CAST({_literal(row[0])} AS text))) AS d(delivery_id)"
            statements.append(EVENTS_FOLD.format(deliveries=one) + ";")
        elif layout == TRACKING and delivery_current:
            (latest,) = newest_per_delivery([row])
            values = ", ".join(
                f"CAST({_literal(value)} AS {kind})"
                for value, (_, kind) in zip(latest, TRACKING_CURRENT_COLUMNS, strict=True)
            )
            names = ", ".join(name for name, _ in TRACKING_CURRENT_COLUMNS)
            update = f"(VALUES ({values})) AS u({names})"
            statements.append(TRACKING_UPSERT.format(updates=update) + ";")
    return "\n".join(statements) + "\n"


def _insert(
    layout: TableLayout, row: Row, conflict: str, leave_out: frozenset[str] = frozenset()
) -> str:
    kept = [
        (name, value, kind)
        for name, value, kind in zip(layout.column_names, row, layout.column_types, strict=True)
        if name not in leave_out
    ]
    columns = ", ".join(name for name, _, _ in kept)
    values = ", ".join(f"CAST({_literal(value)} AS {kind})" for _, value, kind in kept)
    return f"INSERT INTO {layout.name} ({columns}) VALUES ({values}) {conflict};"


def _literal(value: Any) -> str:
    """A PostgreSQL literal for a row value (standard_conforming_strings on)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, datetime):
        return _quote(value.isoformat())
    if isinstance(value, bytes):
        return _quote("\\x" + value.hex())
    if isinstance(value, str):
        return _quote(value)
    return _quote(json.dumps(msgspec.to_builtins(value), sort_keys=True))


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
