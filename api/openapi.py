"""The OpenAPI document: every error response is an RFC 9457 problem document.

Routes declare which errors they answer with `problem_responses(401, 404, ...)`; the
document is then rewritten so that every 4xx/5xx response, FastAPI's automatic 422
included, is `application/problem+json` with the `ProblemPublic` schema, which is what
`main`'s exception handlers send, and every operation with a body documents the 400 of
an unparseable one. Clients and schemathesis see what the server does.

OpenAPI has no place for websocket messages, so their models (`SOCKET_MESSAGES`) are
added to the document's component schemas: the live map's TypeScript types, generated
from this document, then know the socket's message and its status enum too.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from api.schemas import (
    FleetSnapshotPublic,
    FleetUpdatePublic,
    ProblemPublic,
    TrackingMessagePublic,
    TrackingStateMessagePublic,
)
from api.throttle import UNLIMITED_PATHS

PROBLEM_JSON = "application/problem+json"
PROBLEM_REF = {"$ref": "#/components/schemas/ProblemPublic"}
COMPONENT_REF = "#/components/schemas/{model}"

SOCKET_MESSAGES: tuple[type[BaseModel], ...] = (
    TrackingMessagePublic,
    TrackingStateMessagePublic,
    FleetSnapshotPublic,
    FleetUpdatePublic,
)
"""The frames the websockets send, described as component schemas (see the docstring)."""

TITLES = {
    400: "Bad request: the body is not parseable JSON.",
    401: "Not authenticated: the credential is missing or invalid.",
    403: "Forbidden: a valid credential that does not reach this resource.",
    404: "Not found (or not yet in the read model).",
    409: "Conflict: the resource's state does not allow it.",
    413: "Request body too large (`max_body_bytes`), refused before authentication.",
    422: "Invalid request: the detail names the offending field.",
    429: "Too many requests (per client address or per business); see `Retry-After`.",
    503: "Service unavailable: Kafka or the database does not answer; try again.",
}

DESCRIPTION = """
Businesses request drone deliveries; customers follow them live; operators watch the fleet.

Credentials (see the security schemes): a business's `X-API-Key` (from
`POST /v1/businesses`, which needs the operators' `X-Operator-Key`), a delivery's
tracking token as `Authorization: Bearer`, and the operators' key.

Websockets (OpenAPI describes no websocket; their messages are the component schemas
`TrackingMessagePublic`, `TrackingStateMessagePublic`, `FleetSnapshotPublic` and
`FleetUpdatePublic`): `GET /v1/deliveries/{id}/live` with the subprotocols
`dronefleet.v1` and `bearer.<tracking token>` streams one delivery (a `snapshot`, then
`update`s; `state` messages while it waits for a drone, with its place in the queue, and
with the reason of a reschedule, failure or cancellation; closed with 1000 when it ends);
`GET /v1/fleet/live` with `dronefleet.v1` and `bearer.<operator key>` streams the whole
fleet (a `snapshot` of every drone, then every delivery's `update`s, coalesced per
delivery for slow readers).
Both refuse a foreign Origin or a bad credential before accepting (HTTP 403).

Errors are RFC 9457 problem documents (`application/problem+json`), each with a
machine-readable `reason`. Limits: request bodies over the configured size get 413
`body_too_large` before authentication; requests past the rate per client address or per
business get 429 `rate_limited` with `Retry-After`; a tracking socket past the caps per
token or business gets 429 `too_many_sockets` at the handshake.

`Idempotency-Key` (on the POSTs that create a delivery, a cancellation or a business): a
retry with the same key and body gets the same answer and creates nothing more; the same
key with another body gets 422 `idempotency_key_reused`.
"""


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The `responses=` entries of routes answering with these error statuses."""
    return {
        status: {"description": TITLES[status], "content": {PROBLEM_JSON: {"schema": PROBLEM_REF}}}
        for status in statuses
    }


def problem_document(schema: dict[str, Any]) -> dict[str, Any]:
    """Rewrite a generated document so that every error response is a problem document."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["ProblemPublic"] = ProblemPublic.model_json_schema(ref_template=COMPONENT_REF)
    _, socket_schemas = models_json_schema(
        [(model, "serialization") for model in SOCKET_MESSAGES], ref_template=COMPONENT_REF
    )
    for name, definition in socket_schemas["$defs"].items():
        components.setdefault(name, definition)  # a REST body of the same name stays
    for route, path in schema.get("paths", {}).items():
        for operation in path.values():
            if "requestBody" in operation:  # FastAPI answers 400 to a body that is not JSON
                operation["responses"].setdefault("400", {"description": TITLES[400]})
            if "requestBody" in operation or operation.get("operationId", "").startswith(
                ("request_delivery", "cancel_delivery", "register_business")
            ):  # a body (optional ones too) is cut off at `max_body_bytes`
                operation["responses"].setdefault("413", {"description": TITLES[413]})
            if route not in UNLIMITED_PATHS:  # `api.throttle` limits every other path
                operation["responses"].setdefault(
                    "429",
                    {
                        "description": TITLES[429],
                        "headers": {
                            "Retry-After": {
                                "description": "Seconds until a request is admitted again.",
                                "schema": {"type": "integer"},
                            }
                        },
                    },
                )
            for status, response in operation.get("responses", {}).items():
                if status[:1] in ("4", "5"):
                    response["content"] = {PROBLEM_JSON: {"schema": PROBLEM_REF}}
                    if response.get("description") == "Validation Error":
                        response["description"] = TITLES[422]
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    return schema


def install_problem_document(app: FastAPI) -> None:
    """Make `app.openapi()` return the rewritten document (built once, then cached)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = problem_document(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
