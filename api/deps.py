"""FastAPI dependencies, as `Annotated` aliases the routes declare."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated

from aiokafka import AIOKafkaProducer
from fastapi import Depends, Header, Request
from psycopg_pool import AsyncConnectionPool

from api.errors import NotAuthenticatedError
from api.hub import TrackingHub
from api.metrics import ApiMetrics
from api.settings import ApiSettings
from contracts import Topics


@dataclass
class Services:
    """What the routes need, built once by the lifespan in `main`."""

    settings: ApiSettings
    topics: Topics
    producer: AIOKafkaProducer
    pool: AsyncConnectionPool
    hub: TrackingHub
    metrics: ApiMetrics


def get_services(request: Request) -> Services:
    """The process's services (set on app.state by the lifespan)."""
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def business_id(services: ServicesDep, x_api_key: Annotated[str | None, Header()] = None) -> str:
    """The business that owns the presented API key."""
    if x_api_key:
        for business, key in services.settings.business_keys.items():
            # Constant-time comparison: the response time must not reveal a key's prefix.
            if hmac.compare_digest(key.get_secret_value().encode(), x_api_key.encode()):
                return business
    raise NotAuthenticatedError("a valid X-API-Key header is required")


BusinessDep = Annotated[str, Depends(business_id)]


def bearer_token(authorization: Annotated[str | None, Header()] = None) -> str:
    """The token of an `Authorization: Bearer <token>` header."""
    if authorization and authorization.lower().startswith("bearer "):
        return authorization[7:].strip()
    raise NotAuthenticatedError("an Authorization: Bearer <tracking token> header is required")


BearerDep = Annotated[str, Depends(bearer_token)]
