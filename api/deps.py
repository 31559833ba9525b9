"""FastAPI dependencies, as `Annotated` aliases the routes declare.

Three credentials, each a security scheme of the OpenAPI document:
- `X-API-Key`: a business's key (registered through `POST /v1/businesses`);
- `Authorization: Bearer <tracking token>`: a customer's access to one delivery;
- `X-Operator-Key`: the operators' key from the settings (registration, the fleet).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Annotated

from aiokafka.errors import KafkaError
from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from psycopg_pool import AsyncConnectionPool

from api import auth_keys, queries
from api.airspace import AirspaceKeeper
from api.errors import ForbiddenError, NotAuthenticatedError, UnavailableError
from api.hub import TrackingHub
from api.key_ledger import KeyLedger
from api.metrics import ApiMetrics
from api.quote import FreeDrones
from api.settings import ApiSettings
from api.throttle import RateLimits, SocketCaps
from api.token_life import DeliveryEnds
from api.waiting import WaitingLine
from contracts import Topics, utc_now
from kafkaio import BatchSender, WireRecord


@dataclass
class Services:
    """What the routes need, built once by the lifespan in `main`."""

    settings: ApiSettings
    topics: Topics
    sender: BatchSender
    """Sends the commands and events the routes record (`record`)."""
    pool: AsyncConnectionPool
    hub: TrackingHub
    metrics: ApiMetrics
    keys: auth_keys.KeyCache = field(default_factory=auth_keys.KeyCache)
    rates: RateLimits | None = None
    """The per-business rate limit (the per-address one is `throttle.RequestLimits`'s)."""
    sockets: SocketCaps = field(default_factory=lambda: SocketCaps(10, 10_000))
    ledger: KeyLedger = field(default_factory=KeyLedger)
    """Rotated and revoked business keys, folded from the businesses topic by the lifespan."""
    ends: DeliveryEnds = field(default_factory=DeliveryEnds)
    """When ended deliveries ended (a tracking token stops working after; `api.token_life`)."""
    airspace: AirspaceKeeper = field(default_factory=AirspaceKeeper)
    """The airspace in force, kept current by the lifespan (`main.follow_airspace`)."""
    waiting: WaitingLine | None = None
    """The queue of waiting deliveries shared by this process's sockets (built on first use
    with `settings.ws_wait_refresh_s`; see `waiting_line`)."""

    def waiting_line(self) -> WaitingLine:
        """The process's one `WaitingLine`, built on first use."""
        if self.waiting is None:
            self.waiting = WaitingLine(self.settings.ws_wait_refresh_s)
        return self.waiting

    free: FreeDrones | None = None
    """The fleet's free drones shared by this process's quotes (built on first use, with
    the same refresh period as the queue; see `free_drones`)."""

    def free_drones(self) -> FreeDrones:
        """The process's one `FreeDrones`, built on first use."""
        if self.free is None:
            self.free = FreeDrones(self.settings.ws_wait_refresh_s)
        return self.free


async def record(services: Services, topic: str, key: str, value: bytes, what: str) -> None:
    """Append one record and wait for the broker's acknowledgement, or answer 503.

    Through the `BatchSender` rather than the bare producer: after a failed send it
    replaces the producer, whose sequence numbers would otherwise make the broker refuse
    every later record. While the broker is away a request answers within
    `record_timeout_s` instead of hanging, and says the truth: the idempotent producer
    keeps a record it has taken and retries it until the broker is back, so a record
    that was not confirmed in time may still land. The answer names the record's key
    (the delivery or business id) for the client to look up before asking again.
    """
    refused = UnavailableError(f"the {what} could not be recorded; try again")
    send = services.sender.send([WireRecord(topic, key.encode(), value)])
    try:
        acks = await asyncio.wait_for(send, services.settings.record_timeout_s)
    except TimeoutError as error:
        raise UnavailableError(
            f"the {what} was not confirmed by the event log within "
            f"{services.settings.record_timeout_s:g} s; it may still be recorded as {key}: "
            "look it up before asking again"
        ) from error
    except KafkaError as error:  # no metadata for the topic: the broker is away
        raise refused from error
    if acks.failed:
        raise refused


def get_services(request: Request) -> Services:
    """The process's services (set on app.state by the lifespan)."""
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]

business_key_header = APIKeyHeader(
    name="X-API-Key",
    scheme_name="BusinessKey",
    description="A business's API key, as returned once by `POST /v1/businesses`.",
    auto_error=False,
)
operator_key_header = APIKeyHeader(
    name="X-Operator-Key",
    scheme_name="OperatorKey",
    description="The operators' key (`DRONEFLEET_API_OPERATOR_KEY`).",
    auto_error=False,
)
tracking_bearer = HTTPBearer(
    scheme_name="TrackingToken",
    bearerFormat="JWT",
    description="A delivery's tracking token, as returned by `POST /v1/deliveries`.",
    auto_error=False,
)


async def authenticate_business(services: Services, key: str) -> str:
    """The business owning `key`: one lookup by its public key id, a constant-time compare."""
    key_id = auth_keys.key_id_of(key)
    if key_id is None:
        raise NotAuthenticatedError("a valid X-API-Key header is required")
    known = await _known_key(services, key_id)
    if known is None or not auth_keys.matches(key, known.sha256):
        raise NotAuthenticatedError("a valid X-API-Key header is required")
    if services.ledger.refuses(key_id, utc_now()):  # revoked, or rotated out and past grace
        raise NotAuthenticatedError("a valid X-API-Key header is required")
    if services.rates is not None:
        services.rates.check_business(known.business_id)
    return known.business_id


async def _known_key(services: Services, key_id: str) -> auth_keys.KnownKey | None:
    """The key id's row, from the cache or else `business_keys_view`."""
    issued = services.ledger.issued.get(key_id)  # a key a rotation issued
    if issued is not None:
        return issued
    now = time.monotonic()
    known = services.keys.get(key_id, now)
    if known is None:
        if services.keys.known_unknown(key_id, now):
            return None
        services.metrics.key_lookups.inc()
        row = await queries.business_key(services.pool, key_id)
        if row is None:
            services.keys.put_unknown(key_id, now)
            return None
        known = auth_keys.KnownKey(row["business_id"], row["key_sha256"])
        services.keys.put(key_id, known, now)
    return known


async def business_id(
    services: ServicesDep, key: Annotated[str | None, Security(business_key_header)] = None
) -> str:
    """The business that owns the presented API key."""
    if not key:
        raise NotAuthenticatedError("a valid X-API-Key header is required")
    return await authenticate_business(services, key)


BusinessDep = Annotated[str, Depends(business_id)]


def check_operator_key(settings: ApiSettings, presented: str | None) -> None:
    """Raise unless `presented` is the configured operators' key."""
    configured = settings.operator_key
    if configured is None:
        raise ForbiddenError(
            "operator endpoints are disabled: DRONEFLEET_API_OPERATOR_KEY is unset"
        )
    if not presented or not auth_keys.operator_key_matches(
        presented, configured.get_secret_value()
    ):
        raise NotAuthenticatedError("a valid X-Operator-Key header is required")


def operator(
    services: ServicesDep, key: Annotated[str | None, Security(operator_key_header)] = None
) -> None:
    """Admit the holder of the operators' key only."""
    check_operator_key(services.settings, key)


OperatorDep = Depends(operator)
"""For `dependencies=[OperatorDep]` on operator-only routes and routers."""


def bearer_token(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(tracking_bearer)] = None,
) -> str:
    """The token of an `Authorization: Bearer <token>` header."""
    if credentials is None or not credentials.credentials:
        raise NotAuthenticatedError("an Authorization: Bearer <tracking token> header is required")
    return credentials.credentials


BearerDep = Annotated[str, Depends(bearer_token)]


@dataclass(frozen=True, slots=True)
class DeliveryReader:
    """Who reads a delivery: a customer with its tracking token, or a business."""

    token: str | None = None
    business_id: str | None = None


async def delivery_reader(
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(tracking_bearer)] = None,
    key: Annotated[str | None, Security(business_key_header)] = None,
) -> DeliveryReader:
    """A tracking token if one is presented, else a business's API key; 401 without either."""
    if credentials is not None and credentials.credentials:
        return DeliveryReader(token=credentials.credentials)
    if key:
        return DeliveryReader(business_id=await authenticate_business(services, key))
    raise NotAuthenticatedError(
        "an Authorization: Bearer <tracking token> or an X-API-Key header is required"
    )


DeliveryReaderDep = Annotated[DeliveryReader, Depends(delivery_reader)]
