"""Liveness, readiness and the operators' metrics.

`/metrics` is on the public port but operators only: it answers the operators' key,
as `Authorization: Bearer <key>` (what Prometheus's `authorization` scrape setting
sends) or `X-Operator-Key`. Chosen over a second port because every deployment
(the native stack, compose, Kubernetes) already hands the API that one secret, a
second listener would be one more thing to keep off the customers' network in each of
them, and a forgotten firewall rule would not open it: a customer without the key gets
401. It is outside the OpenAPI document's customer operations but listed with its
security scheme.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api import queries
from api.deps import ServicesDep, check_operator_key, operator_key_header
from api.errors import UnavailableError
from api.openapi import problem_responses

router = APIRouter(tags=["health"])

operator_bearer = HTTPBearer(
    scheme_name="OperatorBearer",
    description="The operators' key as a bearer token (Prometheus's `authorization`).",
    auto_error=False,
)


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


def metrics_reader(
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(operator_bearer)] = None,
    key: Annotated[str | None, Security(operator_key_header)] = None,
) -> None:
    """Admit the operators' key, as a bearer token (Prometheus) or `X-Operator-Key`."""
    presented = credentials.credentials if credentials is not None else key
    check_operator_key(services.settings, presented)


@router.get(
    "/metrics",
    response_class=Response,
    dependencies=[Depends(metrics_reader)],
    responses=problem_responses(401, 403),
)
async def metrics(services: ServicesDep) -> Response:
    """Prometheus metrics of this process (websockets, requests, the tracking consumer)."""
    body = generate_latest(services.metrics.registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
