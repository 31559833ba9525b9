"""The live tracking websocket of one delivery.

Handshake: the token travels as a subprotocol (`bearer.<token>`, next to
`dronefleet.v1`), never in the URL, so it stays out of access logs. Origin and token
are checked before the connection is accepted: a refused client gets HTTP 403 and no
websocket. Then: a snapshot, every update, and a clean close when the delivery ends.
Keepalive pings are the server's (uvicorn's `ws_ping_interval`).

The sender is raced against the client's disconnect and against the hub dropping it:
a client that stops reading blocks only its own send (uvicorn's write buffer is
bounded and applies back-pressure), while its queue coalesces; once the hub drops it,
the pending send is cancelled and the handler returns, so uvicorn closes the
connection. Nothing is queued for a client beyond one update and one frame.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from fastapi import APIRouter, WebSocket, WebSocketDisconnect, status

from api import auth_ws, tokens
from api.deps import Services, get_services
from api.errors import ApiError, NotAuthenticatedError
from api.hub import Subscription
from api.routes.deliveries import SUBPROTOCOL
from api.schemas import TrackingMessagePublic
from api.ws_session import run_session
from contracts import FINAL_STATUSES, TrackingUpdated

router = APIRouter(tags=["tracking"])


@lru_cache(maxsize=4096)
def message(kind: Literal["snapshot", "update"], update: TrackingUpdated) -> str:
    """The JSON text frame for an update (cached: many clients may follow one delivery)."""
    return TrackingMessagePublic(
        type=kind,
        delivery_id=update.delivery_id,
        sequence=update.sequence,
        status=update.status,
        lat=update.lat,
        lon=update.lon,
        altitude_m=update.altitude_m,
        remaining_m=update.remaining_m,
        eta=update.eta,
        observed_at=update.occurred_at,
    ).model_dump_json()


def _refusal(websocket: WebSocket, services: Services, delivery_id: str) -> str | None:
    """Why the handshake must be refused ("origin" or "token"), or None to accept."""
    if not auth_ws.origin_allowed(
        websocket.headers.get("origin"), services.settings.allowed_origins
    ):
        return "origin"
    token = auth_ws.credential_from_subprotocols(websocket.scope.get("subprotocols", []))
    try:
        if token is None:
            raise NotAuthenticatedError("no bearer.<token> subprotocol")
        tokens.verify(services.settings.token_secret.get_secret_value(), token, delivery_id)
    except ApiError:
        return "token"
    return None


@router.websocket("/v1/deliveries/{delivery_id}/live")
async def live(websocket: WebSocket, delivery_id: str) -> None:
    """Push a delivery's position, state and ETA to the holder of its token."""
    services = get_services(websocket)  # type: ignore[arg-type]
    refusal = _refusal(websocket, services, delivery_id)
    if refusal is not None:
        services.metrics.ws_refused.labels(refusal).inc()
        reason = "origin not allowed" if refusal == "origin" else "not authorized"
        await websocket.close(code=status.WS_1008_POLICY_VIOLATION, reason=reason)
        return
    subscription = services.hub.subscribe(delivery_id)
    services.metrics.ws_connections.inc()
    try:
        await websocket.accept(subprotocol=SUBPROTOCOL)
        sender = _send_updates(websocket, subscription, services)
        await run_session(websocket, sender, subscription.dropped)
    except WebSocketDisconnect:
        return
    finally:
        services.hub.unsubscribe(subscription)
        services.metrics.ws_connections.dec()


async def _send_updates(
    websocket: WebSocket, subscription: Subscription, services: Services
) -> None:
    """The snapshot, then each newer update, until the delivery ends."""
    last_sequence = 0
    update = services.hub.latest(subscription.delivery_id)
    kind: Literal["snapshot", "update"] = "snapshot"
    while True:
        if update is not None and update.sequence > last_sequence:
            # The snapshot and the first queued update can be the same one: send it once.
            await websocket.send_text(message(kind, update))
            services.metrics.ws_messages.inc()
            last_sequence = update.sequence
            if update.status in FINAL_STATUSES:
                await websocket.close(code=status.WS_1000_NORMAL_CLOSURE)
                return
        update = await subscription.get()
        kind = "update"
