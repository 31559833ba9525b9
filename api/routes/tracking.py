"""The live tracking websocket of one delivery.

Handshake: the token travels as a subprotocol (`bearer.<token>`, next to
`dronefleet.v1`), never in the URL, so it stays out of access logs. Origin and token
are checked before the connection is accepted: a refused client gets HTTP 403 and no
websocket. Then: a snapshot, every update, and a clean close when the delivery ends.
Keepalive pings are the server's (uvicorn's `ws_ping_interval`).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Literal

from fastapi import APIRouter, WebSocket, WebSocketDisconnect, status

from api import tokens
from api.deps import get_services
from api.errors import ApiError, NotAuthenticatedError
from api.routes.deliveries import SUBPROTOCOL
from api.schemas import TrackingMessagePublic
from contracts import FINAL_STATUSES, TrackingUpdated

router = APIRouter(tags=["tracking"])


def message(kind: Literal["snapshot", "update"], update: TrackingUpdated) -> str:
    """The JSON text frame for an update."""
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


def _token_from_subprotocols(offered: list[str]) -> str | None:
    for protocol in offered:
        if protocol.startswith("bearer."):
            return protocol.removeprefix("bearer.")
    return None


@router.websocket("/v1/deliveries/{delivery_id}/live")
async def live(websocket: WebSocket, delivery_id: str) -> None:
    """Push a delivery's position, state and ETA to the holder of its token."""
    services = get_services(websocket)  # type: ignore[arg-type]
    origin = websocket.headers.get("origin")
    if origin is not None and origin not in services.settings.allowed_origins:
        services.metrics.ws_refused.labels("origin").inc()
        await websocket.close(code=status.WS_1008_POLICY_VIOLATION, reason="origin not allowed")
        return
    token = _token_from_subprotocols(websocket.scope.get("subprotocols", []))
    try:
        if token is None:
            raise NotAuthenticatedError("no bearer.<token> subprotocol")
        tokens.verify(services.settings.token_secret.get_secret_value(), token, delivery_id)
    except ApiError:
        services.metrics.ws_refused.labels("token").inc()
        await websocket.close(code=status.WS_1008_POLICY_VIOLATION, reason="not authorized")
        return
    subscription = services.hub.subscribe(delivery_id)
    services.metrics.ws_connections.inc()
    try:
        await websocket.accept(subprotocol=SUBPROTOCOL)
        snapshot = services.hub.latest(delivery_id)
        if snapshot is not None:
            await websocket.send_text(message("snapshot", snapshot))
            services.metrics.ws_messages.inc()
            if snapshot.status in FINAL_STATUSES:
                await websocket.close(code=status.WS_1000_NORMAL_CLOSURE)
                return
        receiver = asyncio.create_task(_drain_incoming(websocket))
        try:
            while True:
                getter = asyncio.create_task(subscription.queue.get())
                done, _ = await asyncio.wait(
                    {getter, receiver}, return_when=asyncio.FIRST_COMPLETED
                )
                if receiver in done:
                    getter.cancel()
                    return  # the client went away
                update = getter.result()
                await websocket.send_text(message("update", update))
                services.metrics.ws_messages.inc()
                if update.status in FINAL_STATUSES:
                    await websocket.close(code=status.WS_1000_NORMAL_CLOSURE)
                    return
        finally:
            receiver.cancel()
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect):
                await receiver
    except WebSocketDisconnect:
        return
    finally:
        services.hub.unsubscribe(subscription)
        services.metrics.ws_connections.dec()


async def _drain_incoming(websocket: WebSocket) -> None:
    """Read (and ignore) client frames until it disconnects: the stream is one-way."""
    while True:
        incoming = await websocket.receive()
        if incoming["type"] == "websocket.disconnect":
            return
