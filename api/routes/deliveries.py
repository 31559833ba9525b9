"""Deliveries: request one (a command, answered 202) and read its status (a query)."""

from __future__ import annotations

import uuid
from datetime import timedelta

from aiokafka.errors import KafkaError
from fastapi import APIRouter, status

from api import queries, tokens
from api.deps import BearerDep, BusinessDep, ServicesDep
from api.errors import ConflictError, NotFoundError, UnavailableError
from api.schemas import (
    CancellationAcceptedPublic,
    CancelRequestIn,
    DeliveryAcceptedPublic,
    DeliveryRequestIn,
    DeliveryStatusPublic,
    PointIn,
    ProblemPublic,
)
from contracts import (
    CancelDelivery,
    DeliveryRequested,
    GeoPoint,
    encode_command,
    encode_event,
    new_event_id,
    utc_now,
)

router = APIRouter(prefix="/v1/deliveries", tags=["deliveries"])

SUBPROTOCOL = "dronefleet.v1"


@router.post("", status_code=status.HTTP_202_ACCEPTED, response_model=DeliveryAcceptedPublic)
async def request_delivery(
    body: DeliveryRequestIn, business: BusinessDep, services: ServicesDep
) -> DeliveryAcceptedPublic:
    """Request a pickup. The delivery is accepted once its event is in the log."""
    now = utc_now()
    delivery_id = uuid.uuid4().hex
    event = DeliveryRequested(
        event_id=new_event_id(),
        sequence=1,
        occurred_at=now,
        recorded_at=now,
        delivery_id=delivery_id,
        business_id=business,
        pickup=GeoPoint(body.pickup.lat, body.pickup.lon),
        dropoff=GeoPoint(body.dropoff.lat, body.dropoff.lon),
    )
    try:
        await services.producer.send_and_wait(
            services.topics.deliveries.name, encode_event(event), key=delivery_id.encode()
        )
    except KafkaError as error:
        raise UnavailableError("the delivery could not be recorded; try again") from error
    services.metrics.deliveries_requested.inc()
    token = tokens.issue(
        services.settings.token_secret.get_secret_value(),
        delivery_id,
        now,
        timedelta(seconds=services.settings.token_ttl_s),
    )
    base = services.settings.public_url.rstrip("/")
    ws_base = base.replace("http://", "ws://", 1).replace("https://", "wss://", 1)
    return DeliveryAcceptedPublic(
        delivery_id=delivery_id,
        status="requested",
        tracking_token=token,
        tracking_url=f"{base}/track/{delivery_id}#token={token}",
        websocket_url=f"{ws_base}/v1/deliveries/{delivery_id}/live",
        websocket_subprotocols=[SUBPROTOCOL, f"bearer.{token}"],
    )


@router.get("/{delivery_id}", response_model=DeliveryStatusPublic)
async def delivery_status(
    delivery_id: str, token: BearerDep, services: ServicesDep
) -> DeliveryStatusPublic:
    """The delivery's current state and ETA, for the holder of its tracking token."""
    tokens.verify(services.settings.token_secret.get_secret_value(), token, delivery_id)
    row = await queries.delivery_status(services.pool, delivery_id)
    if row is None:
        raise NotFoundError("no such delivery yet; it may still be on its way to the read model")
    has_position = row["latest_lat"] is not None
    return DeliveryStatusPublic(
        delivery_id=row["delivery_id"],
        status=row["status"],
        pickup=PointIn(lat=row["pickup_lat"], lon=row["pickup_lon"]),
        dropoff=PointIn(lat=row["dropoff_lat"], lon=row["dropoff_lon"]),
        requested_at=row["requested_at"],
        drone_id=row["drone_id"],
        delivered_at=row["delivered_at"],
        eta=row["latest_eta"],
        position=PointIn(lat=row["latest_lat"], lon=row["latest_lon"]) if has_position else None,
        remaining_m=row["remaining_m"],
    )


CANCELLABLE = frozenset({"requested", "assigned"})


@router.post(
    "/{delivery_id}/cancel",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=CancellationAcceptedPublic,
    responses={404: {"model": ProblemPublic}, 409: {"model": ProblemPublic}},
)
async def cancel_delivery(
    delivery_id: str,
    business: BusinessDep,
    services: ServicesDep,
    body: CancelRequestIn | None = None,
) -> CancellationAcceptedPublic:
    """Ask to cancel a delivery before pickup; the delivery's own log has the last word.

    The read model answers quickly for the common cases (unknown delivery, another
    business's delivery, already picked up); the aggregate then decides against the
    authoritative state and the customer's live tracking ends with status `cancelled`.
    """
    row = await queries.delivery_status(services.pool, delivery_id)
    if row is None or row["business_id"] != business:
        raise NotFoundError("no such delivery for this business")
    if row["status"] not in CANCELLABLE:
        raise ConflictError(f"a delivery that is {row['status']} can no longer be cancelled")
    command = CancelDelivery(
        command_id=new_event_id(),
        delivery_id=delivery_id,
        issued_at=utc_now(),
        requested_by=business,
        reason=body.reason if body else "",
    )
    try:
        await services.producer.send_and_wait(
            services.topics.delivery_commands.name,
            encode_command(command),
            key=delivery_id.encode(),
        )
    except KafkaError as error:
        raise UnavailableError("the cancellation could not be recorded; try again") from error
    return CancellationAcceptedPublic(delivery_id=delivery_id, status="cancellation_requested")
