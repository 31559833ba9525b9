"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api import queries
from api.deps import ServicesDep
from api.errors import UnavailableError

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(services: ServicesDep) -> dict[str, str]:
    """Ready when the database answers and the tracking consumer runs."""
    try:
        await queries.ping(services.pool)
    except Exception as error:
        raise UnavailableError("the database does not answer") from error
    if not services.hub.running:
        raise UnavailableError("the tracking consumer is not running yet")
    return {"status": "ready"}


@router.get("/metrics", response_class=Response)
async def metrics(services: ServicesDep) -> Response:
    """Prometheus metrics of this process (websockets, requests, the tracking consumer)."""
    body = generate_latest(services.metrics.registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
