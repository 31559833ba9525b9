"""Small builders of events for tests (fixed ids and times unless given)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from contracts import (
    AbortReason,
    Delivered,
    DeliveryFailed,
    DeliveryRequested,
    DeliveryRescheduled,
    DroneAssigned,
    DronePhase,
    GeoPoint,
    GiveUpReason,
    PickedUp,
    TelemetryReported,
    TrackingStatus,
    TrackingUpdated,
    new_event_id,
)

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
PICKUP = GeoPoint(47.3780, 8.5400)
DROPOFF = GeoPoint(47.3850, 8.5480)
DEPOT = GeoPoint(47.3700, 8.5300)


def requested(delivery_id: str = "d1", at: datetime = T0) -> DeliveryRequested:
    return DeliveryRequested(
        event_id=new_event_id(),
        sequence=1,
        occurred_at=at,
        recorded_at=at,
        delivery_id=delivery_id,
        business_id="b1",
        pickup=PICKUP,
        dropoff=DROPOFF,
    )


def assigned(delivery_id: str = "d1", drone_id: str = "drone-1", seq: int = 2) -> DroneAssigned:
    return DroneAssigned(
        event_id=new_event_id(),
        sequence=seq,
        occurred_at=T0,
        recorded_at=T0,
        delivery_id=delivery_id,
        drone_id=drone_id,
        pickup=PICKUP,
        dropoff=DROPOFF,
    )


def picked_up(delivery_id: str = "d1", drone_id: str = "drone-1", seq: int = 3) -> PickedUp:
    at = T0 + timedelta(minutes=2)
    return PickedUp(
        event_id=new_event_id(),
        sequence=seq,
        occurred_at=at,
        recorded_at=at,
        delivery_id=delivery_id,
        drone_id=drone_id,
    )


def delivered(delivery_id: str = "d1", drone_id: str = "drone-1", seq: int = 4) -> Delivered:
    at = T0 + timedelta(minutes=4)
    return Delivered(
        event_id=new_event_id(),
        sequence=seq,
        occurred_at=at,
        recorded_at=at,
        delivery_id=delivery_id,
        drone_id=drone_id,
    )


def failed(
    delivery_id: str = "d1",
    drone_id: str = "drone-1",
    seq: int = 4,
    reason: AbortReason = "battery",
    at: datetime = T0,
) -> DeliveryFailed:
    return DeliveryFailed(
        event_id=new_event_id(),
        sequence=seq,
        occurred_at=at,
        recorded_at=at,
        delivery_id=delivery_id,
        drone_id=drone_id,
        reason=reason,
    )


def rescheduled(
    delivery_id: str = "d1",
    drone_id: str = "drone-1",
    seq: int = 3,
    reason: GiveUpReason = "unreachable",
    at: datetime = T0,
) -> DeliveryRescheduled:
    return DeliveryRescheduled(
        event_id=new_event_id(),
        sequence=seq,
        occurred_at=at,
        recorded_at=at,
        delivery_id=delivery_id,
        drone_id=drone_id,
        reason=reason,
        pickup=PICKUP,
        dropoff=DROPOFF,
        requested_at=at,
        declined_by=(drone_id,),
    )


def fix(
    drone_id: str = "drone-1",
    seq: int = 1,
    at: datetime = T0,
    position: GeoPoint = DEPOT,
    *,
    delivery_id: str | None = None,
    phase: DronePhase = "idle",
    speed: float = 0.0,
    battery: float = 90.0,
) -> TelemetryReported:
    return TelemetryReported(
        event_id=new_event_id(),
        sequence=seq,
        occurred_at=at,
        recorded_at=at,
        drone_id=drone_id,
        delivery_id=delivery_id,
        lat=position.lat,
        lon=position.lon,
        altitude_m=0.0 if phase == "idle" else 60.0,
        ground_speed_mps=speed,
        heading_deg=0.0,
        battery_pct=battery,
        phase=phase,
    )


def tracking(
    delivery_id: str = "d1",
    seq: int = 1,
    at: datetime = T0,
    position: GeoPoint = PICKUP,
    *,
    status: TrackingStatus = "en_route_to_dropoff",
    remaining_m: float = 500.0,
    eta_in: timedelta | None = timedelta(seconds=60),
) -> TrackingUpdated:
    return TrackingUpdated(
        event_id=new_event_id(),
        sequence=seq,
        occurred_at=at,
        recorded_at=at,
        delivery_id=delivery_id,
        drone_id="drone-1",
        source_event_id=new_event_id(),
        lat=position.lat,
        lon=position.lon,
        altitude_m=60.0,
        ground_speed_mps=15.0,
        status=status,
        remaining_m=remaining_m,
        eta=None if eta_in is None else at + eta_in,
    )
