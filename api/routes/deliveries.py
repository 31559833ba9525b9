"""Deliveries: commands (request, cancel: 202) and queries (list, status, history).

Commands become events or commands on Kafka; queries read the projections' views. A
business sees its own deliveries only; a tracking token reaches its one delivery.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from typing import Annotated, Any, TypedDict

from fastapi import APIRouter, Path, Query, status

from api import cursors, idempotency, queries, token_life, tokens
from api.deps import BusinessDep, DeliveryReader, DeliveryReaderDep, ServicesDep, record
from api.errors import (
    ConflictError,
    IdempotencyKeyReusedError,
    NotFoundError,
    UnavailableError,
)
from api.idempotency import IdempotencyKeyHeader
from api.openapi import problem_responses
from api.quote import quote_now
from api.schemas import (
    CancellationAcceptedPublic,
    CancelRequestIn,
    DeliveryAcceptedPublic,
    DeliveryEventPublic,
    DeliveryHistoryPublic,
    DeliveryPagePublic,
    DeliveryRequestIn,
    DeliveryStatusPublic,
    PointIn,
    QuotePublic,
    TrackPointPublic,
)
from contracts import (
    CANCELLABLE_STATUSES,
    CancelDelivery,
    DeliveryRequested,
    GeoPoint,
    RequestDelivery,
    encode_command,
    encode_event,
    new_event_id,
    utc_now,
)

log = logging.getLogger(__name__)
"""Each accepted request with its delivery's and business's ids (`extra=`: JSON logs' fields),
where following a delivery through the services' logs begins (README, "Operations")."""

router = APIRouter(prefix="/v1/deliveries", tags=["deliveries"])

SUBPROTOCOL = "dronefleet.v1"

DeliveryId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$")]


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=DeliveryAcceptedPublic,
    responses=problem_responses(401, 422, 503),
)
async def request_delivery(
    body: DeliveryRequestIn,
    business: BusinessDep,
    services: ServicesDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> DeliveryAcceptedPublic:
    """Request a pickup. The delivery is accepted once its event (or command) is in the log.

    A request no drone could ever serve is refused at once (422, with its `reason`:
    `pickup_in_no_fly_zone`, `dropoff_in_no_fly_zone`, `outside_service_area`,
    `beyond_range`); 503 `airspace_unknown` while the platform's airspace is not known.
    With an `Idempotency-Key`, a retry gets the same delivery (and, once the read model
    has it, the very same answer) and nothing more is recorded; the same key with another
    body is refused with 422 `idempotency_key_reused` (`api.idempotency`).

    The answer carries the quote (issue 19): when the pickup and the drop-off should
    happen, counting the deliveries waiting before it, the nearest free drone and the
    routes round the no-fly zones (`api.quote`). The quote is recorded with the request
    (`DeliveryRequested`'s `quoted_*` fields), so the read models can measure it. A keyed
    request's retry is the same delivery with the same token; its quote is as of the
    retry (`quoted_at`), and only while the delivery still waits for a drone (then the
    tracking's ETA says more); the recorded quote stays the first request's.
    """
    if idempotency_key is not None:
        return await _keyed_request(body, business, services, idempotency_key)
    pickup = GeoPoint(body.pickup.lat, body.pickup.lon)
    dropoff = GeoPoint(body.dropoff.lat, body.dropoff.lon)
    services.airspace.check(pickup, dropoff)
    now = utc_now()
    quote = await _quote_new(services, pickup, dropoff, now)
    delivery_id = uuid.uuid4().hex
    event = DeliveryRequested(
        event_id=new_event_id(),
        sequence=1,
        occurred_at=now,
        recorded_at=now,
        delivery_id=delivery_id,
        business_id=business,
        pickup=pickup,
        dropoff=dropoff,
        **_quote_fields(quote),
    )
    await record(
        services, services.topics.deliveries.name, delivery_id, encode_event(event), "delivery"
    )
    return _quoted(services, delivery_id, business, quote, now, "")


async def _keyed_request(
    body: DeliveryRequestIn, business: str, services: ServicesDep, idempotency_key: str
) -> DeliveryAcceptedPublic:
    """A request with an Idempotency-Key: from the read model, or asked of the aggregate.

    `RequestDelivery` is recorded once by the aggregate, which refuses a reused key; the
    read model answers a retry once it has the delivery.
    """
    delivery_id = idempotency.derived_id("delivery", business, idempotency_key)
    request_digest = idempotency.digest(body)
    row = await queries.delivery_status(services.pool, delivery_id)
    if row is not None:
        recorded = DeliveryRequestIn(
            pickup=PointIn(lat=row["pickup_lat"], lon=row["pickup_lon"]),
            dropoff=PointIn(lat=row["dropoff_lat"], lon=row["dropoff_lon"]),
        )
        if row["business_id"] != business or idempotency.digest(recorded) != request_digest:
            raise IdempotencyKeyReusedError(
                "this Idempotency-Key was used for a different delivery request"
            )
        again = _accepted(services, delivery_id, business, row["requested_at"])
        if row["status"] == "requested":
            again.quote = await _quote_waiting(services, delivery_id, recorded)
        return again
    pickup = GeoPoint(body.pickup.lat, body.pickup.lon)
    dropoff = GeoPoint(body.dropoff.lat, body.dropoff.lon)
    services.airspace.check(pickup, dropoff)
    now = utc_now()
    quote = await _quote_new(services, pickup, dropoff, now)
    command = RequestDelivery(
        command_id=new_event_id(),
        delivery_id=delivery_id,
        issued_at=now,
        business_id=business,
        pickup=pickup,
        dropoff=dropoff,
        request_digest=request_digest,  # of the body only: a retry's new quote is no conflict
        **_quote_fields(quote),
    )
    await record(
        services,
        services.topics.delivery_commands.name,
        delivery_id,
        encode_command(command),
        "delivery",
    )
    return _quoted(services, delivery_id, business, quote, now, " (with an Idempotency-Key)")


async def _quote_new(
    services: ServicesDep, pickup: GeoPoint, dropoff: GeoPoint, now: datetime
) -> QuotePublic | None:
    """The quote of a request about to be recorded (None without airspace or read model).

    Asked before the request is sent, so the deliveries waiting in the read model are
    exactly the ones ahead of it (`ahead=None`: the whole line); the quote is then
    recorded with the request (`_quote_fields`) and given with the 202.
    """
    return await quote_now(
        services.pool,
        services.airspace,
        services.free_drones(),
        services.waiting_line(),
        pickup,
        dropoff,
        None,
        now,
        preflight_s=services.settings.quote_preflight_s,
        wind_mps=services.settings.quote_wind_mps,
        wind_from_deg=services.settings.quote_wind_from_deg,
    )


class _QuoteFields(TypedDict):
    """`DeliveryRequested`'s and `RequestDelivery`'s quote (issue 19): what was promised."""

    quoted_at: datetime | None
    quoted_pickup_at: datetime | None
    quoted_dropoff_at: datetime | None


def _quote_fields(quote: QuotePublic | None) -> _QuoteFields:
    """The quote as the request records it, so the read models can measure it.

    All None without a quote: the request is accepted all the same.
    """
    if quote is None:
        return _QuoteFields(quoted_at=None, quoted_pickup_at=None, quoted_dropoff_at=None)
    return _QuoteFields(
        quoted_at=quote.quoted_at,
        quoted_pickup_at=quote.pickup_eta,
        quoted_dropoff_at=quote.dropoff_eta,
    )


def _quoted(
    services: ServicesDep,
    delivery_id: str,
    business: str,
    quote: QuotePublic | None,
    now: datetime,
    how: str,
) -> DeliveryAcceptedPublic:
    """The 202 of a request just recorded, with its quote (counted and logged once here)."""
    services.metrics.deliveries_requested.inc()
    _log_accepted(f"delivery requested{how}", delivery_id, business)
    accepted = _accepted(services, delivery_id, business, now)
    accepted.quote = quote
    _log_quote(delivery_id, accepted.quote)
    return accepted


async def _quote_waiting(
    services: ServicesDep, delivery_id: str, body: DeliveryRequestIn
) -> QuotePublic | None:
    """The quote of a delivery already in the queue, from its place in it (as the socket's)."""
    try:
        place = await services.waiting_line().place(
            lambda: queries.waiting_deliveries(services.pool), delivery_id
        )
    except UnavailableError:
        place = None
    return await quote_now(
        services.pool,
        services.airspace,
        services.free_drones(),
        services.waiting_line(),
        GeoPoint(body.pickup.lat, body.pickup.lon),
        GeoPoint(body.dropoff.lat, body.dropoff.lon),
        None if place is None else place.ahead,
        utc_now(),
        preflight_s=services.settings.quote_preflight_s,
        wind_mps=services.settings.quote_wind_mps,
        wind_from_deg=services.settings.quote_wind_from_deg,
    )


def _log_quote(delivery_id: str, quote: QuotePublic | None) -> None:
    """The quote given, one line per request.

    The ETA accuracy run (`benchmarks/eta_accuracy_run.py`) reads these lines back to hold
    each quote against the delivery's actual pickup and arrival.
    """
    if quote is not None:
        log.info(
            "quote for %s: pickup %s, drop-off %s",
            delivery_id,
            quote.pickup_eta.isoformat(),
            quote.dropoff_eta.isoformat(),
            extra={"delivery_id": delivery_id},
        )


def _log_accepted(what: str, delivery_id: str, business: str) -> None:
    """One line per command the API recorded for a delivery."""
    log.info(
        "%s: %s", what, delivery_id, extra={"delivery_id": delivery_id, "business_id": business}
    )


def _accepted(
    services: ServicesDep, delivery_id: str, business: str, requested_at: datetime
) -> DeliveryAcceptedPublic:
    """The 202 body; the token is issued at the request's time, so a replay gets the same."""
    token = tokens.issue(
        services.settings.token_secret.get_secret_value(),
        delivery_id,
        requested_at,
        timedelta(seconds=services.settings.token_ttl_s),
        business_id=business,
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


@router.get(
    "",
    response_model=DeliveryPagePublic,
    responses=problem_responses(401, 422, 503),
)
async def list_deliveries(
    business: BusinessDep,
    services: ServicesDep,
    cursor: Annotated[str | None, Query(max_length=cursors.MAX_CURSOR_LENGTH)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> DeliveryPagePublic:
    """The business's deliveries, newest first; pass `next_cursor` back for the next page."""
    after = cursors.decode_deliveries(cursor) if cursor is not None else None
    rows = await queries.business_deliveries(services.pool, business, after, limit + 1)
    page = rows[:limit]
    last = page[-1] if len(rows) > limit else None
    return DeliveryPagePublic(
        items=[_status(row) for row in page],
        next_cursor=(
            cursors.encode_deliveries(last["requested_at"], last["delivery_id"]) if last else None
        ),
    )


@router.get(
    "/{delivery_id}",
    response_model=DeliveryStatusPublic,
    responses=problem_responses(401, 403, 404, 422, 503),
)
async def delivery_status(
    delivery_id: DeliveryId, reader: DeliveryReaderDep, services: ServicesDep
) -> DeliveryStatusPublic:
    """The delivery's current state and ETA, for its tracking token or its business."""
    return _status(await _readable_status(delivery_id, reader, services))


@router.get(
    "/{delivery_id}/history",
    response_model=DeliveryHistoryPublic,
    responses=problem_responses(401, 403, 404, 422, 503),
)
async def delivery_history(
    delivery_id: DeliveryId, reader: DeliveryReaderDep, services: ServicesDep
) -> DeliveryHistoryPublic:
    """What happened to the delivery, event by event, and its track, for its token or business."""
    await _readable_status(delivery_id, reader, services)
    rows = await queries.delivery_history(services.pool, delivery_id)
    track = await queries.track(services.pool, delivery_id)
    return DeliveryHistoryPublic(
        delivery_id=delivery_id,
        events=[DeliveryEventPublic.model_validate(row) for row in rows],
        track=[TrackPointPublic.model_validate(row) for row in track],
    )


async def _readable_status(
    delivery_id: str, reader: DeliveryReader, services: ServicesDep
) -> dict[str, Any]:
    """The delivery's status row if `reader` may see it; else 403 (foreign token) or 404.

    A business asking for another business's delivery gets the same 404 as for an
    unknown id: whether a delivery exists is not disclosed to others.
    """
    if reader.token is not None:
        tokens.verify(services.settings.token_secret.get_secret_value(), reader.token, delivery_id)
        ended = await services.ends.ended_at(services.pool, delivery_id)
        token_life.check(ended, utc_now(), services.settings.token_after_final_s)
    row = await queries.delivery_status(services.pool, delivery_id)
    if row is None or (reader.business_id is not None and row["business_id"] != reader.business_id):
        raise NotFoundError("no such delivery yet; it may still be on its way to the read model")
    return row


def _status(row: dict[str, Any]) -> DeliveryStatusPublic:
    """The public form of a `delivery_status_view` row."""
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


@router.post(
    "/{delivery_id}/cancel",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=CancellationAcceptedPublic,
    responses=problem_responses(401, 404, 409, 422, 503),
)
async def cancel_delivery(
    delivery_id: DeliveryId,
    business: BusinessDep,
    services: ServicesDep,
    body: CancelRequestIn | None = None,
    idempotency_key: IdempotencyKeyHeader = None,
) -> CancellationAcceptedPublic:
    """Ask to cancel a delivery before pickup; the delivery's own log has the last word.

    The read model answers quickly for the common cases (unknown delivery, another
    business's delivery, already picked up); the aggregate then decides against the
    authoritative state and the customer's live tracking ends with status `cancelled`.
    With an `Idempotency-Key`, a retry after the cancellation took effect gets the same
    202 (not 409), and the same key with another reason 422 `idempotency_key_reused`.
    """
    row = await queries.delivery_status(services.pool, delivery_id)
    if row is None or row["business_id"] != business:
        raise NotFoundError("no such delivery for this business")
    reason = body.reason if body else ""
    request_digest = idempotency.digest(body or CancelRequestIn())
    if idempotency_key is not None and row["status"] == "cancelled":
        recorded = await queries.latest_reason(services.pool, delivery_id)
        if recorded is not None and recorded["status"] == "cancelled":
            if (recorded["reason"] or "") != reason:
                raise IdempotencyKeyReusedError(
                    "this delivery was cancelled with another reason: the Idempotency-Key "
                    "was used for a different cancellation"
                )
            return CancellationAcceptedPublic(
                delivery_id=delivery_id, status="cancellation_requested"
            )
    if row["status"] not in CANCELLABLE_STATUSES:
        raise ConflictError(f"a delivery that is {row['status']} can no longer be cancelled")
    command = CancelDelivery(
        command_id=(
            idempotency.derived_id("cancellation", business, delivery_id, idempotency_key)
            if idempotency_key is not None
            else new_event_id()
        ),
        delivery_id=delivery_id,
        issued_at=utc_now(),
        requested_by=business,
        reason=reason,
        request_digest=request_digest if idempotency_key is not None else None,
    )
    await record(
        services,
        services.topics.delivery_commands.name,
        delivery_id,
        encode_command(command),
        "cancellation",
    )
    _log_accepted("cancellation requested", delivery_id, business)
    return CancellationAcceptedPublic(delivery_id=delivery_id, status="cancellation_requested")
