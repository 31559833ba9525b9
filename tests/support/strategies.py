"""Hypothesis strategies for every event of the contracts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import get_args

from hypothesis import strategies as st

import contracts
from contracts import (
    AbortReason,
    AirspacePublished,
    AssignDrone,
    BusinessRegistered,
    CancelDelivery,
    Delivered,
    DeliveryCancelled,
    DeliveryFailed,
    DeliveryRequested,
    DeliveryRescheduled,
    Depot,
    DroneAssigned,
    DroneFound,
    DroneHeard,
    DroneLost,
    DroneMilestone,
    DronePhase,
    ExpireRequest,
    FailureReason,
    FleetHeard,
    GeoPoint,
    GiveUpReason,
    LivenessTick,
    MilestoneKind,
    NoFlyZone,
    PickedUp,
    RefusalReason,
    RefuseAssignment,
    ReportAbort,
    ReportDropoff,
    ReportPickup,
    TelemetryReported,
    TrackingStatus,
    TrackingUpdated,
    WithdrawAssignment,
    WithdrawReason,
)

ids = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=64)
sequences = st.integers(min_value=1, max_value=2**53)
utc_datetimes = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
latitudes = st.floats(min_value=-90, max_value=90, allow_nan=False)
longitudes = st.floats(min_value=-180, max_value=180, allow_nan=False)
points = st.builds(GeoPoint, lat=latitudes, lon=longitudes)
finite = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e6, max_value=1e6)
non_negative = st.floats(min_value=0, max_value=1e6, allow_nan=False)


def _common() -> dict[str, st.SearchStrategy[object]]:
    return {
        "event_id": ids,
        "sequence": sequences,
        "occurred_at": utc_datetimes,
        "recorded_at": utc_datetimes,
    }


delivery_requested = st.builds(
    DeliveryRequested, delivery_id=ids, business_id=ids, pickup=points, dropoff=points, **_common()
)
drone_assigned = st.builds(
    DroneAssigned, delivery_id=ids, drone_id=ids, pickup=points, dropoff=points, **_common()
)
picked_up = st.builds(PickedUp, delivery_id=ids, drone_id=ids, **_common())
delivered = st.builds(Delivered, delivery_id=ids, drone_id=ids, **_common())
cancelled = st.builds(
    DeliveryCancelled,
    delivery_id=ids,
    requested_by=ids,
    reason=st.text(max_size=500),
    drone_id=st.none() | ids,
    **_common(),
)
telemetry = st.builds(
    TelemetryReported,
    drone_id=ids,
    delivery_id=st.none() | ids,
    lat=latitudes,
    lon=longitudes,
    altitude_m=finite,
    ground_speed_mps=non_negative,
    heading_deg=st.floats(min_value=0, max_value=359.999, allow_nan=False),
    battery_pct=st.floats(min_value=0, max_value=100, allow_nan=False),
    phase=st.sampled_from(get_args(DronePhase)),
    **_common(),
)
tracking = st.builds(
    TrackingUpdated,
    delivery_id=ids,
    drone_id=st.none() | ids,
    source_event_id=ids,
    lat=latitudes,
    lon=longitudes,
    altitude_m=finite,
    ground_speed_mps=non_negative,
    status=st.sampled_from(get_args(TrackingStatus)),
    remaining_m=non_negative,
    eta=st.none() | utc_datetimes.map(lambda d: d + timedelta(seconds=1)),
    eta_earliest=st.none() | utc_datetimes,
    eta_latest=st.none() | utc_datetimes,
    **_common(),
)
printable = st.characters(codec="utf-8", min_codepoint=0x20).filter(lambda c: c != "\x7f")
business_registered = st.builds(
    BusinessRegistered,
    business_id=ids,
    name=st.text(printable, min_size=1, max_size=200),
    contact=st.text(printable, min_size=1, max_size=320),
    key_id=ids,
    key_sha256=st.text(alphabet="0123456789abcdef", min_size=64, max_size=64),
    **_common(),
)
business_key_rotated = st.builds(
    contracts.BusinessKeyRotated,
    business_id=ids,
    key_id=ids,
    key_sha256=st.text(alphabet="0123456789abcdef", min_size=64, max_size=64),
    previous_key_id=ids,
    previous_valid_until=utc_datetimes,
    **_common(),
)
business_key_revoked = st.builds(
    contracts.BusinessKeyRevoked,
    business_id=ids,
    key_id=ids,
    reason=st.text(max_size=500),
    **_common(),
)
abort_reasons = st.sampled_from(get_args(AbortReason))
refusal_reasons = st.sampled_from(get_args(RefusalReason))
rescheduled = st.builds(
    DeliveryRescheduled,
    delivery_id=ids,
    drone_id=ids,
    reason=st.sampled_from(get_args(GiveUpReason)),
    pickup=points,
    dropoff=points,
    requested_at=utc_datetimes,
    declined_by=st.lists(ids, min_size=1, max_size=4).map(tuple),
    **_common(),
)
failed = st.builds(
    DeliveryFailed,
    delivery_id=ids,
    drone_id=st.none() | ids,
    reason=st.sampled_from(get_args(FailureReason)),
    **_common(),
)
liveness_tick = st.builds(LivenessTick, worker=ids, **_common())
drone_lost = st.builds(
    DroneLost, drone_id=ids, last_seen_at=utc_datetimes, delivery_id=st.none() | ids, **_common()
)
drone_found = st.builds(DroneFound, drone_id=ids, **_common())
drone_heard = st.builds(
    DroneHeard,
    drone_id=ids,
    occurred_at=utc_datetimes,
    lat=latitudes,
    lon=longitudes,
    battery_pct=st.floats(min_value=0, max_value=100, allow_nan=False),
    phase=st.sampled_from(get_args(DronePhase)),
    delivery_id=st.none() | ids,
)
fleet_heard = st.builds(
    FleetHeard,
    gate=ids,
    drones=st.lists(drone_heard, min_size=1, max_size=4).map(tuple),
    **_common(),
)
drone_milestone = st.builds(
    DroneMilestone,
    drone_id=ids,
    kind=st.sampled_from(get_args(MilestoneKind)),
    lat=latitudes,
    lon=longitudes,
    battery_pct=st.floats(min_value=0, max_value=100, allow_nan=False),
    delivery_id=st.none() | ids,
    reason=st.none() | abort_reasons,
    **_common(),
)

names = st.text(printable, min_size=1, max_size=200)
rings = st.lists(points, min_size=3, max_size=8).map(tuple)
airspace_published = st.builds(
    AirspacePublished,
    airspace_id=ids,
    name=names,
    zones=st.lists(st.builds(NoFlyZone, name=names, boundary=rings), max_size=3).map(tuple),
    depots=st.lists(st.builds(Depot, name=names, position=points), min_size=1, max_size=3).map(
        tuple
    ),
    service_area=rings,
    range_m=st.floats(min_value=1.0, max_value=1e6),
    **_common(),
)
webhook_topics = st.lists(
    st.sampled_from(get_args(contracts.WebhookTopic)), min_size=1, max_size=8
).map(tuple)
webhook_urls = st.text(printable, min_size=8, max_size=200)
webhook_endpoint_registered = st.builds(
    contracts.WebhookEndpointRegistered,
    business_id=ids,
    endpoint_id=ids,
    url=webhook_urls,
    topics=webhook_topics,
    description=st.text(max_size=200),
    secret_version=st.integers(1, 10),
    **_common(),
)
webhook_endpoint_updated = st.builds(
    contracts.WebhookEndpointUpdated,
    business_id=ids,
    endpoint_id=ids,
    url=webhook_urls,
    topics=webhook_topics,
    description=st.text(max_size=200),
    enabled=st.booleans(),
    secret_version=st.integers(1, 10),
    **_common(),
)
webhook_endpoint_deleted = st.builds(
    contracts.WebhookEndpointDeleted, business_id=ids, endpoint_id=ids, **_common()
)
webhook_redelivery_requested = st.builds(
    contracts.WebhookRedeliveryRequested,
    business_id=ids,
    endpoint_id=ids,
    message_ids=st.lists(ids, max_size=4).map(tuple),
    **_common(),
)

EVENT_STRATEGIES = {
    "DeliveryRequested": delivery_requested,
    "DroneAssigned": drone_assigned,
    "PickedUp": picked_up,
    "Delivered": delivered,
    "DeliveryCancelled": cancelled,
    "DeliveryRescheduled": rescheduled,
    "DeliveryFailed": failed,
    "DroneMilestone": drone_milestone,
    "TelemetryReported": telemetry,
    "TrackingUpdated": tracking,
    "BusinessRegistered": business_registered,
    "BusinessKeyRotated": business_key_rotated,
    "BusinessKeyRevoked": business_key_revoked,
    "AirspacePublished": airspace_published,
    "LivenessTick": liveness_tick,
    "DroneLost": drone_lost,
    "DroneFound": drone_found,
    "FleetHeard": fleet_heard,
    "WebhookEndpointRegistered": webhook_endpoint_registered,
    "WebhookEndpointUpdated": webhook_endpoint_updated,
    "WebhookEndpointDeleted": webhook_endpoint_deleted,
    "WebhookRedeliveryRequested": webhook_redelivery_requested,
}
any_event = st.one_of(*EVENT_STRATEGIES.values())


def _command_fields() -> dict[str, st.SearchStrategy[object]]:
    return {"command_id": ids, "delivery_id": ids, "issued_at": utc_datetimes}


request_digests = st.text(alphabet="0123456789abcdef", min_size=64, max_size=64)

COMMAND_STRATEGIES = {
    "AssignDrone": st.builds(AssignDrone, drone_id=ids, **_command_fields()),
    "RequestDelivery": st.builds(
        contracts.RequestDelivery,
        business_id=ids,
        pickup=points,
        dropoff=points,
        request_digest=request_digests,
        **_command_fields(),
    ),
    "CancelDelivery": st.builds(
        CancelDelivery,
        requested_by=ids,
        reason=st.text(max_size=500),
        request_digest=st.none() | request_digests,
        **_command_fields(),
    ),
    "ReportPickup": st.builds(
        ReportPickup, drone_id=ids, observed_at=utc_datetimes, **_command_fields()
    ),
    "ReportDropoff": st.builds(
        ReportDropoff, drone_id=ids, observed_at=utc_datetimes, **_command_fields()
    ),
    "ReportAbort": st.builds(
        ReportAbort,
        drone_id=ids,
        reason=abort_reasons,
        observed_at=utc_datetimes,
        **_command_fields(),
    ),
    "RefuseAssignment": st.builds(
        RefuseAssignment,
        drone_id=ids,
        reason=refusal_reasons,
        observed_at=utc_datetimes,
        **_command_fields(),
    ),
    "WithdrawAssignment": st.builds(
        WithdrawAssignment,
        drone_id=ids,
        reason=st.sampled_from(get_args(WithdrawReason)),
        observed_at=utc_datetimes,
        **_command_fields(),
    ),
    "ExpireRequest": st.builds(ExpireRequest, observed_at=utc_datetimes, **_command_fields()),
}
