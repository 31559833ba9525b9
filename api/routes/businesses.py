"""Businesses: registration (an operator's command) and a business's own record.

Registration is a command like any other: the API writes a BusinessRegistered event to
the businesses topic (the system of record) and the projection sink turns it into the
`business_keys_view` row that authenticates the key. Read-your-writes: the API answers
201 only once that view has the key, so the key works at once on every API replica
(they all read the same view). If the projection is slower than
`registration_wait_s`, the answer is 202 with the same key and status `pending`: the
event is in the log, so the key will work as soon as the sink catches up, and the
client must not register again. Keeping the fresh hash in this process instead was
rejected: the other replicas would refuse the key until the projection caught up.

Why registration needs the operators' key: an API key lets its holder put drones in
the air; open self-service sign-up would hand that to anyone. Operators onboard
businesses (`X-Operator-Key`), businesses then use their own key.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Response, Security, status

from api import auth_keys, idempotency, queries
from api.deps import BusinessDep, OperatorDep, ServicesDep, business_key_header, record
from api.errors import IdempotencyKeyReusedError, NotFoundError, UnavailableError
from api.idempotency import IdempotencyKeyHeader
from api.openapi import problem_responses
from api.schemas import (
    BusinessPublic,
    BusinessRegisteredPublic,
    BusinessRegistrationIn,
    KeyRevocationIn,
    KeyRevokedPublic,
    KeyRotatedPublic,
)
from contracts import (
    BusinessKeyRevoked,
    BusinessKeyRotated,
    BusinessRegistered,
    encode_event,
    new_event_id,
    utc_now,
)

router = APIRouter(prefix="/v1/businesses", tags=["businesses"])

POLL_S = 0.05


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=BusinessRegisteredPublic,
    dependencies=[OperatorDep],
    responses={
        202: {
            "model": BusinessRegisteredPublic,
            "description": "Recorded; the key works within moments (status `pending`).",
        },
        **problem_responses(401, 403, 422, 503),
    },
)
async def register_business(
    body: BusinessRegistrationIn,
    services: ServicesDep,
    response: Response,
    idempotency_key: IdempotencyKeyHeader = None,
) -> BusinessRegisteredPublic:
    """Register a business and issue its API key (shown in this answer only).

    With an `Idempotency-Key` (the operator's), a retry registers nothing more and shows
    the same business and the same key again (derived from the key, see
    `api.idempotency.business_key`); the same key with another body gets 422
    `idempotency_key_reused`.
    """
    now = utc_now()
    if idempotency_key is None:
        business_id = uuid.uuid4().hex
        key = auth_keys.issue()
    else:
        business_id = idempotency.derived_id("business", idempotency_key)
        key = idempotency.business_key(
            services.settings.token_secret.get_secret_value(), idempotency_key
        )
        existing = await queries.business(services.pool, business_id)
        if existing is not None:  # a retry: answer as the first time, record nothing
            _same_registration(existing, body)
            return BusinessRegisteredPublic(
                business_id=business_id,
                name=existing["name"],
                contact=existing["contact"],
                registered_at=existing["registered_at"],
                key_id=key.key_id,
                api_key=key.key,
                status="active",
            )
    event = BusinessRegistered(
        event_id=new_event_id(),
        sequence=1,
        occurred_at=now,
        recorded_at=now,
        business_id=business_id,
        name=body.name,
        contact=body.contact,
        key_id=key.key_id,
        key_sha256=key.sha256,
    )
    await record(
        services, services.topics.businesses.name, business_id, encode_event(event), "registration"
    )
    active = await _wait_until_projected(services, key.key_id)
    if active and idempotency_key is not None:
        # Two first tries at once (on two replicas) both recorded: the read model kept one.
        projected = await queries.business(services.pool, business_id)
        if projected is not None:
            _same_registration(projected, body)
            now = projected["registered_at"]
    if not active:
        services.keys.expect(key.key_id)
        response.status_code = status.HTTP_202_ACCEPTED
    return BusinessRegisteredPublic(
        business_id=business_id,
        name=body.name,
        contact=body.contact,
        registered_at=now,
        key_id=key.key_id,
        api_key=key.key,
        status="active" if active else "pending",
    )


def _same_registration(row: dict[str, Any], body: BusinessRegistrationIn) -> None:
    """Raise 422 `idempotency_key_reused` unless the recorded business is this body's."""
    recorded = BusinessRegistrationIn(name=row["name"], contact=row["contact"])
    if idempotency.digest(recorded) != idempotency.digest(body):
        raise IdempotencyKeyReusedError(
            "this Idempotency-Key was used to register a different business"
        )


async def _wait_until_projected(services: ServicesDep, key_id: str) -> bool:
    """Poll the key's view row until it appears or `registration_wait_s` passes."""
    deadline = time.monotonic() + services.settings.registration_wait_s
    while True:
        try:
            if await queries.business_key(services.pool, key_id) is not None:
                return True
        except UnavailableError:
            pass  # the event is recorded: answer `pending` rather than fail
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(POLL_S)


@router.get("/me", response_model=BusinessPublic, responses=problem_responses(401, 404, 503))
async def my_business(business: BusinessDep, services: ServicesDep) -> BusinessPublic:
    """The business the presented API key belongs to."""
    row = await queries.business(services.pool, business)
    if row is None:
        raise NotFoundError("no such business")
    return BusinessPublic.model_validate(row)


async def _record_key_event(
    services: ServicesDep, event: BusinessKeyRotated | BusinessKeyRevoked, what: str
) -> None:
    """Record a key event, then wait (bounded) until this process's ledger has folded it.

    Its effect then holds on this replica from the answer on (on the others as soon as
    their followers read it: moments).
    """
    await record(
        services, services.topics.businesses.name, event.business_id, encode_event(event), what
    )
    ledger = services.ledger
    folded = ledger.issued if isinstance(event, BusinessKeyRotated) else ledger.revoked
    for _ in range(int(services.settings.registration_wait_s / POLL_S) + 1):
        if event.key_id in folded:
            return
        await asyncio.sleep(POLL_S)


@router.post(
    "/me/keys",
    status_code=status.HTTP_201_CREATED,
    response_model=KeyRotatedPublic,
    responses=problem_responses(401, 503),
)
async def rotate_key(
    business: BusinessDep,
    services: ServicesDep,
    presented: Annotated[str | None, Security(business_key_header)] = None,
) -> KeyRotatedPublic:
    """Issue a new key (shown this once); the presented one works `key_rotation_grace_s` more.

    Recorded as `BusinessKeyRotated` on the businesses topic, so every replica and every
    rebuild retires the old key at the same moment.
    """
    previous = auth_keys.key_id_of(presented or "")
    if previous is None:  # authenticated, so well-formed; for the type checker
        raise NotFoundError("no key presented")
    now = utc_now()
    key = auth_keys.issue()
    until = now + timedelta(seconds=services.settings.key_rotation_grace_s)
    until = min(until, services.ledger.retiring.get(previous, until))  # never extended
    event = BusinessKeyRotated(
        event_id=new_event_id(),
        sequence=services.ledger.next_sequence(business),
        occurred_at=now,
        recorded_at=now,
        business_id=business,
        key_id=key.key_id,
        key_sha256=key.sha256,
        previous_key_id=previous,
        previous_valid_until=until,
    )
    await _record_key_event(services, event, "rotation")
    return KeyRotatedPublic(
        business_id=business,
        key_id=key.key_id,
        api_key=key.key,
        previous_key_id=previous,
        previous_valid_until=until,
    )


KeyId = Annotated[str, Path(pattern=r"^[0-9a-f]{16}$")]
BusinessId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$")]


@router.post(
    "/{business_id}/keys/{key_id}/revoke",
    response_model=KeyRevokedPublic,
    dependencies=[OperatorDep],
    responses=problem_responses(401, 403, 404, 422, 503),
)
async def revoke_key(
    business_id: BusinessId,
    key_id: KeyId,
    services: ServicesDep,
    body: KeyRevocationIn | None = None,
) -> KeyRevokedPublic:
    """Revoke one of a business's keys (operators): refused from now on, on every replica.

    Recorded as `BusinessKeyRevoked`: a rebuild of the read model keeps it revoked.
    """
    owner = services.ledger.owners.get(key_id)
    if owner is None:
        row = await queries.business_key(services.pool, key_id)
        owner = row["business_id"] if row is not None else None
    if owner != business_id:
        raise NotFoundError("no such key for this business")
    if key_id not in services.ledger.revoked:
        now = utc_now()
        event = BusinessKeyRevoked(
            event_id=new_event_id(),
            sequence=services.ledger.next_sequence(business_id),
            occurred_at=now,
            recorded_at=now,
            business_id=business_id,
            key_id=key_id,
            reason=body.reason if body else "",
        )
        await _record_key_event(services, event, "revocation")
    services.keys.forget(key_id)
    return KeyRevokedPublic(business_id=business_id, key_id=key_id, status="revoked")
