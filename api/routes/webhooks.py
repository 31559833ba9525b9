"""Webhook endpoints: registered, listed, changed, disabled, deleted by their business.

The business also reads what the notifier sent (messages, attempts, dead letters) and
asks for redelivery.

Every change is an event on the businesses topic (`WebhookEndpointRegistered`,
`...Updated`, `...Deleted`, `WebhookRedeliveryRequested`), next to the business's own
registration and keys: the business's aggregate, kept forever, in one partition, so its
order holds and a rebuild or the notifier folds the same endpoints (docs/decisions/0004).
The projection sink turns the endpoint events into `webhook_endpoints_view`; like a
business registration, the answer waits (bounded) until the view has the change.

The signing secret is derived from `webhook_signing_key` and the endpoint id
(`contracts.webhooks.endpoint_secret`): shown in the registration's answer only, and
recorded nowhere. URLs must be https to a public address (`url_problem`), unless
`webhook_allow_private_targets` (the notifier checks again, resolving the name).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Response, status

from api import idempotency, webhook_queries
from api.deps import BusinessDep, ServicesDep, record
from api.errors import (
    ForbiddenError,
    IdempotencyKeyReusedError,
    InvalidRequestError,
    NotFoundError,
    UnavailableError,
)
from api.idempotency import IdempotencyKeyHeader
from api.openapi import problem_responses
from api.webhook_schemas import (
    WebhookAttemptPublic,
    WebhookEndpointCreatedPublic,
    WebhookEndpointHealthPublic,
    WebhookEndpointIn,
    WebhookEndpointPatch,
    WebhookEndpointPublic,
    WebhookMessagePublic,
    WebhookRedeliveryIn,
    WebhookRedeliveryPublic,
    WebhookSecretRotatedPublic,
    WebhookSecretRotationIn,
)
from contracts import (
    WebhookEndpointDeleted,
    WebhookEndpointRegistered,
    WebhookEndpointUpdated,
    WebhookRedeliveryRequested,
    encode_event,
    new_event_id,
    utc_now,
)
from contracts.webhooks import endpoint_secret, url_problem

router = APIRouter(prefix="/v1/webhooks/endpoints", tags=["webhooks"])

POLL_S = 0.05
EndpointId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]
AnyEvent = WebhookEndpointRegistered | WebhookEndpointUpdated | WebhookEndpointDeleted


def _signing_key(services: ServicesDep) -> str:
    key = services.settings.webhook_signing_key
    if key is None:
        raise ForbiddenError("webhooks are disabled: DRONEFLEET_API_WEBHOOK_SIGNING_KEY is unset")
    return key.get_secret_value()


def _check_url(services: ServicesDep, url: str) -> None:
    problem = url_problem(url, services.settings.webhook_allow_private_targets)
    if problem is not None:
        raise InvalidRequestError(f"url: {problem}")


def _public(row: dict[str, Any]) -> WebhookEndpointPublic:
    return WebhookEndpointPublic.model_validate(row)


async def _record(services: ServicesDep, event: AnyEvent | WebhookRedeliveryRequested) -> None:
    await record(
        services,
        services.topics.businesses.name,
        event.business_id,
        encode_event(event),
        "webhook endpoint change",
    )


async def _projected(services: ServicesDep, business: str, endpoint_id: str, sequence: int) -> bool:
    """Wait (bounded) until the view shows the endpoint at `sequence` (or gone, for 0)."""
    deadline = time.monotonic() + services.settings.registration_wait_s
    while True:
        try:
            row = await webhook_queries.endpoint(services.pool, business, endpoint_id)
            if row is None if sequence == 0 else row is not None and row["sequence"] >= sequence:
                return True
        except UnavailableError:
            pass  # recorded: answer from the event rather than fail
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(POLL_S)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=WebhookEndpointCreatedPublic,
    responses={
        202: {"model": WebhookEndpointCreatedPublic, "description": "Recorded, listed soon."},
        **problem_responses(401, 403, 422, 503),
    },
)
async def register_endpoint(
    body: WebhookEndpointIn,
    business: BusinessDep,
    services: ServicesDep,
    response: Response,
    idempotency_key: IdempotencyKeyHeader = None,
) -> WebhookEndpointCreatedPublic:
    """Register an endpoint; its signing secret is in this answer only.

    With an `Idempotency-Key`, a retry registers nothing more and shows the same endpoint
    and secret again; the same key with another body gets 422 `idempotency_key_reused`.
    """
    signing_key = _signing_key(services)
    _check_url(services, body.url)
    if idempotency_key is None:
        endpoint_id = uuid.uuid4().hex
    else:
        endpoint_id = idempotency.derived_id("webhook-endpoint", business, idempotency_key)
        existing = await webhook_queries.endpoint(services.pool, business, endpoint_id)
        if existing is not None:
            recorded = WebhookEndpointIn(
                url=existing["url"], topics=existing["topics"], description=existing["description"]
            )
            if idempotency.digest(recorded) != idempotency.digest(body):
                raise IdempotencyKeyReusedError(
                    "this Idempotency-Key was used to register a different endpoint"
                )
            return WebhookEndpointCreatedPublic(
                **_public(existing).model_dump(),
                secret=endpoint_secret(signing_key, endpoint_id, existing["secret_version"]),
                status="active",
            )
    now = utc_now()
    event = WebhookEndpointRegistered(
        event_id=new_event_id(),
        sequence=1,
        occurred_at=now,
        recorded_at=now,
        business_id=business,
        endpoint_id=endpoint_id,
        url=body.url,
        topics=tuple(body.topics),
        description=body.description,
    )
    await _record(services, event)
    active = await _projected(services, business, endpoint_id, 1)
    if not active:
        response.status_code = status.HTTP_202_ACCEPTED
    return WebhookEndpointCreatedPublic(
        endpoint_id=endpoint_id,
        url=body.url,
        topics=list(body.topics),
        description=body.description,
        enabled=True,
        created_at=now,
        updated_at=now,
        secret=endpoint_secret(signing_key, endpoint_id),
        status="active" if active else "pending",
    )


@router.get("", response_model=list[WebhookEndpointPublic], responses=problem_responses(401, 503))
async def list_endpoints(
    business: BusinessDep, services: ServicesDep
) -> list[WebhookEndpointPublic]:
    """The business's endpoints (deleted ones are gone), oldest first."""
    return [_public(row) for row in await webhook_queries.endpoints(services.pool, business)]


async def owned_endpoint(
    endpoint_id: EndpointId, business: BusinessDep, services: ServicesDep
) -> dict[str, Any]:
    """The path's endpoint, if it is the calling business's; 404 otherwise.

    Another business's endpoint is as unknown as one that never existed.
    """
    row = await webhook_queries.endpoint(services.pool, business, endpoint_id)
    if row is None:
        raise NotFoundError("no such endpoint")
    return row


OwnedEndpoint = Annotated[dict[str, Any], Depends(owned_endpoint)]
"""Every route under `/{endpoint_id}`: the lookup-or-404 once, as a dependency (FastAPI
resolves `BusinessDep` once per request, for the route and this alike)."""


@router.get(
    "/{endpoint_id}",
    response_model=WebhookEndpointPublic,
    responses=problem_responses(401, 404, 503),
)
async def get_endpoint(endpoint: OwnedEndpoint) -> WebhookEndpointPublic:
    """One of the business's endpoints."""
    return _public(endpoint)


def _next_state(row: dict[str, Any], business: str, **changes: Any) -> WebhookEndpointUpdated:
    """The endpoint's next state as an event: its read-model `row` with `changes`.

    The whole state, as `WebhookEndpointUpdated` records it (a change and a rotation alike).
    """
    now = utc_now()
    state: dict[str, Any] = {
        "url": row["url"],
        "topics": row["topics"],
        "description": row["description"],
        "enabled": row["enabled"],
        "secret_version": row["secret_version"],
        **changes,
    }
    return WebhookEndpointUpdated(
        event_id=new_event_id(),
        sequence=row["sequence"] + 1,
        occurred_at=now,
        recorded_at=now,
        business_id=business,
        endpoint_id=row["endpoint_id"],
        **{**state, "topics": tuple(state["topics"])},
    )


@router.patch(
    "/{endpoint_id}",
    response_model=WebhookEndpointPublic,
    responses=problem_responses(401, 403, 404, 422, 503),
)
async def update_endpoint(
    body: WebhookEndpointPatch, row: OwnedEndpoint, business: BusinessDep, services: ServicesDep
) -> WebhookEndpointPublic:
    """Change an endpoint's URL, topics, description, or disable (`enabled: false`) it.

    A disabled endpoint is sent nothing; what waited for it waits on until it is enabled.
    """
    _signing_key(services)
    endpoint_id = row["endpoint_id"]
    if body.url is not None:
        _check_url(services, body.url)
    changes = body.model_dump(exclude_none=True)
    event = _next_state(row, business, **changes)
    now = event.recorded_at
    await _record(services, event)
    await _projected(services, business, endpoint_id, event.sequence)
    return WebhookEndpointPublic(
        endpoint_id=endpoint_id,
        url=event.url,
        topics=list(event.topics),
        description=event.description,
        enabled=event.enabled,
        created_at=row["created_at"],
        updated_at=now,
    )


@router.delete(
    "/{endpoint_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(401, 404, 503),
)
async def delete_endpoint(
    row: OwnedEndpoint, business: BusinessDep, services: ServicesDep
) -> Response:
    """Delete an endpoint: nothing more is sent to it, what waited for it is dropped."""
    endpoint_id = row["endpoint_id"]
    now = utc_now()
    event = WebhookEndpointDeleted(
        event_id=new_event_id(),
        sequence=row["sequence"] + 1,
        occurred_at=now,
        recorded_at=now,
        business_id=business,
        endpoint_id=endpoint_id,
    )
    await _record(services, event)
    await _projected(services, business, endpoint_id, 0)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/{endpoint_id}/health",
    response_model=WebhookEndpointHealthPublic,
    responses=problem_responses(401, 404, 503),
)
async def endpoint_health(
    endpoint: OwnedEndpoint, business: BusinessDep, services: ServicesDep
) -> WebhookEndpointHealthPublic:
    """What the notifier did for the endpoint: messages by state, failures in a row, pause."""
    endpoint_id = endpoint["endpoint_id"]
    row = await webhook_queries.health(services.pool, business, endpoint_id)
    if row is None:  # the notifier has not read the registration yet
        return WebhookEndpointHealthPublic(
            endpoint_id=endpoint_id,
            delivered=0,
            pending=0,
            dead=0,
            consecutive_failures=0,
            paused_until=None,
        )
    return WebhookEndpointHealthPublic.model_validate(row)


Limit = Annotated[int, Query(ge=1, le=500)]


@router.get(
    "/{endpoint_id}/messages",
    response_model=list[WebhookMessagePublic],
    responses=problem_responses(401, 404, 503),
)
async def endpoint_messages(
    endpoint: OwnedEndpoint,
    business: BusinessDep,
    services: ServicesDep,
    state: Literal["pending", "delivered", "dead", "dropped"] | None = None,
    after: Annotated[int | None, Query(ge=0)] = None,
    limit: Limit = 100,
) -> list[WebhookMessagePublic]:
    """The endpoint's messages in order (`state=dead`: its dead letters); page with `after`."""
    rows = await webhook_queries.messages(
        services.pool, business, endpoint["endpoint_id"], state, after, limit
    )
    return [WebhookMessagePublic.model_validate(row) for row in rows]


@router.get(
    "/{endpoint_id}/attempts",
    response_model=list[WebhookAttemptPublic],
    responses=problem_responses(401, 404, 503),
)
async def endpoint_attempts(
    endpoint: OwnedEndpoint,
    business: BusinessDep,
    services: ServicesDep,
    message_id: Annotated[str | None, Query(max_length=64)] = None,
    after: Annotated[int | None, Query(ge=0)] = None,
    limit: Limit = 100,
) -> list[WebhookAttemptPublic]:
    """Every attempt at the endpoint (of one message), oldest first; page with `after`."""
    rows = await webhook_queries.attempts(
        services.pool, business, endpoint["endpoint_id"], message_id, after, limit
    )
    return [WebhookAttemptPublic.model_validate(row) for row in rows]


@router.post(
    "/{endpoint_id}/redeliver",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=WebhookRedeliveryPublic,
    responses=problem_responses(401, 404, 422, 503),
)
async def redeliver(
    row: OwnedEndpoint,
    business: BusinessDep,
    services: ServicesDep,
    body: WebhookRedeliveryIn | None = None,
) -> WebhookRedeliveryPublic:
    """Send dead letters again (those named, or all), in their order; unpauses the endpoint.

    Recorded as `WebhookRedeliveryRequested`: the notifier takes back the messages that
    were dead when the request was made.
    """
    endpoint_id = row["endpoint_id"]
    ids = tuple(body.message_ids) if body is not None else ()
    now = utc_now()
    event = WebhookRedeliveryRequested(
        event_id=new_event_id(),
        sequence=row["sequence"],
        occurred_at=now,
        recorded_at=now,
        business_id=business,
        endpoint_id=endpoint_id,
        message_ids=ids,
    )
    await _record(services, event)
    return WebhookRedeliveryPublic(
        endpoint_id=endpoint_id, message_ids=list(ids), status="accepted"
    )


@router.post(
    "/{endpoint_id}/rotate-secret",
    response_model=WebhookSecretRotatedPublic,
    responses=problem_responses(401, 403, 404, 422, 503),
)
async def rotate_secret(
    row: OwnedEndpoint,
    business: BusinessDep,
    services: ServicesDep,
    body: WebhookSecretRotationIn | None = None,
) -> WebhookSecretRotatedPublic:
    """A new signing secret for the endpoint, in this answer only.

    The old secret keeps signing alongside the new one until `previous_secret_valid_until`
    (`previous_valid_for_s` from now, a day by default): each post then carries two
    signatures (`webhook-signature: v1,<new> v1,<old>`, as Standard Webhooks allows), so
    a receiver still verifying with the old secret refuses nothing while it is switched
    over; after that only the new one signs. Recorded as a `WebhookEndpointUpdated` with
    the next `secret_version` and the grace's end, on the businesses topic.
    """
    signing_key = _signing_key(services)
    grace_s = (body or WebhookSecretRotationIn()).previous_valid_for_s
    endpoint_id = row["endpoint_id"]
    version = row["secret_version"] + 1
    until = utc_now() + timedelta(seconds=grace_s)
    event = _next_state(row, business, secret_version=version, previous_secret_valid_until=until)
    await _record(services, event)
    await _projected(services, business, endpoint_id, event.sequence)
    return WebhookSecretRotatedPublic(
        endpoint_id=endpoint_id,
        secret=endpoint_secret(signing_key, endpoint_id, version),
        secret_version=version,
        previous_secret_valid_until=until,
    )
