"""The live tracking websocket of one delivery.

Handshake: the token travels as a subprotocol (`bearer.<token>`, next to
`dronefleet.v1`), never in the URL, so it stays out of access logs. Origin and token
are checked before the connection is accepted: a refused client gets HTTP 403 and no
websocket. Then: a snapshot, every update, and a clean close when the delivery ends.
Keepalive pings are the server's (uvicorn's `ws_ping_interval`).

The snapshot is the newest update this process has consumed, or, when it has none
(after a restart, on another replica, a delivery still waiting for its drone), what the
read model knows: the newest recorded update and the delivery's state. Updates carry a
position; `state` messages say what has none: a waiting delivery's place in the queue
(again whenever it changes), the reason of a reschedule, failure or cancellation, an end
the hub has not seen. A final state is the last message, then the close (1000).

The sender is raced against the client's disconnect and against the hub dropping it:
a client that stops reading blocks only its own send (uvicorn's write buffer is
bounded and applies back-pressure), while its queue coalesces; once the hub drops it,
the pending send is cancelled and the handler returns, so uvicorn closes the
connection. Nothing is queued for a client beyond one update and one frame.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from functools import lru_cache
from typing import Any, Literal

from fastapi import APIRouter, Response, WebSocket, WebSocketDisconnect, status

from api import auth_ws, queries, token_life, tokens
from api.deps import Services, get_services
from api.errors import ApiError, NotAuthenticatedError, UnavailableError
from api.hub import Subscription
from api.quote import moved, quote_now
from api.routes.deliveries import SUBPROTOCOL
from api.schemas import QuotePublic, TrackingMessagePublic, TrackingStateMessagePublic
from api.throttle import problem_body
from api.waiting import Place
from api.ws_session import run_session
from contracts import (
    FINAL_STATUSES,
    GeoPoint,
    TrackingStatus,
    TrackingUpdated,
    shown_status,
    utc_now,
)

router = APIRouter(tags=["tracking"])


@lru_cache(maxsize=4096)
def message(kind: Literal["snapshot", "update"], update: TrackingUpdated) -> str:
    """The JSON text frame for an update (cached: many clients may follow one delivery).

    The ETA's window is the update's own: the stream worker that computed the ETA gave
    it (`streams.domain.eta_window`), so every replica sends the same one.
    """
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
        eta_earliest=update.eta_earliest,
        eta_latest=update.eta_latest,
    ).model_dump_json()


def _refusal(
    websocket: WebSocket, services: Services, delivery_id: str
) -> tuple[str, None] | tuple[None, tuple[str, tokens.TokenClaims]]:
    """Why the handshake must be refused ("origin" or "token"), or the token and its claims."""
    if not auth_ws.origin_allowed(
        websocket.headers.get("origin"), services.settings.allowed_origins
    ):
        return "origin", None
    token = auth_ws.credential_from_subprotocols(websocket.scope.get("subprotocols", []))
    try:
        if token is None:
            raise NotAuthenticatedError("no bearer.<token> subprotocol")
        claims = tokens.verify(
            services.settings.token_secret.get_secret_value(), token, delivery_id
        )
    except ApiError:
        return "token", None
    return None, (token, claims)


async def _deny_too_many(websocket: WebSocket) -> None:
    """429 `too_many_sockets` as the handshake's answer (a close before accept: 403)."""
    body = problem_body(
        429,
        "Too many sockets",
        "this token or business has too many open sockets",
        "too_many_sockets",
    )
    try:
        await websocket.send_denial_response(
            Response(body, status_code=429, media_type="application/problem+json")
        )
    except RuntimeError:  # a server without the denial-response extension
        await websocket.close(code=status.WS_1008_POLICY_VIOLATION, reason="too many sockets")


@router.websocket("/v1/deliveries/{delivery_id}/live")
async def live(websocket: WebSocket, delivery_id: str) -> None:
    """Push a delivery's position, state and ETA to the holder of its token."""
    services = get_services(websocket)  # type: ignore[arg-type]
    refusal, admitted = _refusal(websocket, services, delivery_id)
    if admitted is None:
        services.metrics.ws_refused.labels(refusal).inc()
        reason = "origin not allowed" if refusal == "origin" else "not authorized"
        await websocket.close(code=status.WS_1008_POLICY_VIOLATION, reason=reason)
        return
    token, claims = admitted
    try:
        ended = await _ended_at(services, delivery_id)
        token_life.check(ended, utc_now(), services.settings.token_after_final_s)
    except UnavailableError:
        pass  # the read model does not answer: the token's own expiry still holds
    except token_life.TokenEndedError:
        services.metrics.ws_refused.labels("token_expired").inc()
        await websocket.close(code=status.WS_1008_POLICY_VIOLATION, reason="not authorized")
        return
    if not services.sockets.admit(token, claims.business_id):
        services.metrics.ws_refused.labels("too_many_sockets").inc()
        await _deny_too_many(websocket)
        return
    try:
        await _serve(websocket, services, delivery_id)
    finally:
        services.sockets.release(token, claims.business_id)


async def _ended_at(services: Services, delivery_id: str) -> datetime | None:
    """When the delivery ended (None: it has not), asking the database only if need be.

    The hub's newest update answers without a query for a delivery in flight (the common
    case, thousands of sockets at once); the read model when the hub has none (a delivery
    still waiting, an API restarted since).
    """
    latest = services.hub.latest(delivery_id)
    if latest is not None:
        return latest.occurred_at if latest.status in FINAL_STATUSES else None
    return await services.ends.ended_at(services.pool, delivery_id)


async def _serve(websocket: WebSocket, services: Services, delivery_id: str) -> None:
    """The admitted socket's session, until the delivery ends or the client goes."""
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
    """The snapshot, then each newer update, until the delivery ends.

    The first message comes from the hub's memory (the latest update this process
    consumed) or, when it has none, from the read model: after an API restart, on
    another replica, or while the delivery waits for a drone (it has no update yet).
    While the delivery waits (or its state is not known yet), the read model is asked
    again every `ws_wait_refresh_s` for its state and place in the queue; once a drone
    flies it, only the hub's updates follow.
    """
    feed = _Feed(websocket, services, subscription.delivery_id)
    refresh_s = services.settings.ws_wait_refresh_s
    update = services.hub.latest(subscription.delivery_id)
    if update is not None:
        ended = await feed.update("snapshot", update)
    else:
        ended = await feed.from_read_model()
    polls = 0
    while not ended:
        if feed.waiting:
            # Until the read model has the delivery (it may lag the request by a moment),
            # ask again soon, then less often, up to the refresh period.
            delay = min(refresh_s, 0.25 * 2**polls) if feed.first else refresh_s
            try:
                update = await asyncio.wait_for(subscription.get(), delay)
            except TimeoutError:
                polls += 1
                ended = await feed.from_read_model()
                continue
        else:
            update = await subscription.get()
        ended = await feed.update("snapshot" if feed.first else "update", update)


WAITING: frozenset[TrackingStatus] = frozenset({"requested", "rescheduled"})
"""The statuses in which a delivery waits for a drone (its customer is told its place)."""

WITH_REASON: frozenset[TrackingStatus] = frozenset({"rescheduled", "failed", "cancelled"})
"""The statuses whose reason (`delivery_reasons_view`) the customer is told."""


class _Feed:
    """What one socket has sent so far, and how to send the next message.

    `last_sequence` is the tracking sequence (of `TrackingUpdated`) of the newest update
    sent, so an update is never sent twice whether it came from the read model or the
    hub; `status` is the last status sent in any message.
    """

    def __init__(self, websocket: WebSocket, services: Services, delivery_id: str) -> None:
        self.websocket = websocket
        self.services = services
        self.delivery_id = delivery_id
        self.last_sequence = 0
        self.status: TrackingStatus | None = None
        self.last_state: TrackingStateMessagePublic | None = None
        self.ends: tuple[GeoPoint, GeoPoint] | None = None
        """The pickup and the drop-off (from the read model): what a quote is made for."""

    @property
    def first(self) -> bool:
        """Nothing sent yet: the next message is the snapshot."""
        return self.status is None

    @property
    def waiting(self) -> bool:
        """Whether the read model must be asked again: unknown yet, or waiting for a drone."""
        return self.status is None or self.status in WAITING

    async def update(self, kind: Literal["snapshot", "update"], update: TrackingUpdated) -> bool:
        """Send a hub update (if newer); True once the delivery has ended and is closed."""
        if update.sequence <= self.last_sequence:
            return False  # the snapshot and the first queued update can be the same one
        await self._send(message(kind, update))
        if kind == "update":  # a snapshot's age is the delivery's, not the pipeline's
            self.services.metrics.observe_sent("delivery", update)
        self.last_sequence = update.sequence
        self.status = update.status
        if update.status in WITH_REASON:
            reason = await self._reason(update.status, self.services.settings.ws_reason_wait_s)
            if reason is not None:
                await self._state(update.status, reason)
        return await self._close_if_final()

    async def from_read_model(self) -> bool:
        """`_from_read_model`, or nothing while the database does not answer.

        The hub's updates go on meanwhile; the read model is asked again after the
        refresh period.
        """
        try:
            return await self._from_read_model()
        except UnavailableError:
            return False

    async def _from_read_model(self) -> bool:
        """Send what the read model knows that this socket has not; True once closed.

        The newest recorded tracking update first (only as the first message: later
        ones come from the hub), then the state if it says more than that update: a
        delivery still waiting (with its place), one ended without a final update
        recorded, or a reason.
        """
        pool = self.services.pool
        row = await queries.delivery_status(pool, self.delivery_id)
        if row is None:
            return False  # not in the read model yet: ask again after the refresh period
        self.ends = (
            GeoPoint(row["pickup_lat"], row["pickup_lon"]),
            GeoPoint(row["dropoff_lat"], row["dropoff_lon"]),
        )
        if self.first:
            track = await queries.latest_track(pool, self.delivery_id)
            if track is not None:
                await self._send(_recorded(track))
                self.last_sequence = track["sequence"]
                self.status = track["status"]
        shown = shown_status(row["status"])
        if not self.first and shown != self.status and shown not in FINAL_STATUSES:
            # Once something was sent, the hub's updates carry the flight; the read model
            # may lag behind them, so here it only adds a place, a reason or the end.
            return False
        reason = await self._reason(shown, 0.0) if shown in WITH_REASON else None
        await self._state(shown, reason)
        return await self._close_if_final()

    async def _state(self, status: TrackingStatus, reason: str | None) -> None:
        """Send a state message if it tells the customer something new.

        While waiting: whenever the place, the reason or the quote changes (the quote
        by more than `api.quote.MATERIAL_S`: a reschedule, a queue that moved). Otherwise:
        a status no update has shown yet (the read model knows more than the hub), or a
        reason.
        """
        place = await self._place() if status in WAITING else None
        state = TrackingStateMessagePublic(
            type="state",
            delivery_id=self.delivery_id,
            status=status,
            reason=reason,
            waiting_ahead=None if place is None else place.ahead,
            waiting_total=None if place is None else place.waiting,
            quote=await self._quote(place) if status in WAITING else None,
        )
        news = state != self.last_state and (
            status in WAITING or status != self.status or reason is not None
        )
        if not news:
            return
        await self._send(state.model_dump_json())
        self.last_state = state
        self.status = status

    async def _quote(self, place: Place | None) -> QuotePublic | None:
        """The waiting delivery's quote as of now.

        The one last sent while it has not moved materially, so that a state which says
        nothing new is not sent again.
        """
        if self.ends is None:
            return None
        ahead = None if place is None else place.ahead
        fresh = await quote_now(
            self.services.pool,
            self.services.airspace,
            self.services.free_drones(),
            self.services.waiting_line(),
            *self.ends,
            ahead,
            utc_now(),
            preflight_s=self.services.settings.quote_preflight_s,
            wind_mps=self.services.settings.quote_wind_mps,
            wind_from_deg=self.services.settings.quote_wind_from_deg,
        )
        sent = self.last_state.quote if self.last_state is not None else None
        if fresh is None or sent is None or moved(sent, fresh):
            return fresh
        return sent

    async def _place(self) -> Place | None:
        """The delivery's place in the queue; None when not counted (or no database)."""
        try:
            return await self.services.waiting_line().place(
                lambda: queries.waiting_deliveries(self.services.pool), self.delivery_id
            )
        except UnavailableError:
            return None

    async def _reason(self, status: TrackingStatus, wait_s: float) -> str | None:
        """The reason of the delivery's latest reschedule, failure or cancellation.

        The tracking update can reach the API before the sink has written the event it
        comes from, so the read model is asked again for up to `wait_s`.
        """
        deadline = asyncio.get_running_loop().time() + wait_s
        while True:
            try:
                row = await queries.latest_reason(self.services.pool, self.delivery_id)
            except UnavailableError:
                return None  # said without its reason rather than not at all
            if row is not None and row["status"] == status:
                reason: str | None = row["reason"] or None
                return reason
            if asyncio.get_running_loop().time() >= deadline:
                return None
            await asyncio.sleep(0.25)

    async def _close_if_final(self) -> bool:
        if self.status not in FINAL_STATUSES:
            return False
        await self.websocket.close(code=status.WS_1000_NORMAL_CLOSURE)
        return True

    async def _send(self, text: str) -> None:
        await self.websocket.send_text(text)
        self.services.metrics.ws_messages.inc()


def _recorded(track: dict[str, Any]) -> str:
    """The snapshot of a tracking update recorded in `delivery_track_view`.

    With the window it was sent with, recorded beside it (None in rows older than it).
    """
    return TrackingMessagePublic(
        type="snapshot",
        delivery_id=track["delivery_id"],
        sequence=track["sequence"],
        status=track["status"],
        lat=track["lat"],
        lon=track["lon"],
        altitude_m=track["altitude_m"],
        remaining_m=track["remaining_m"],
        eta=track["eta"],
        observed_at=track["observed_at"],
        eta_earliest=track["eta_earliest"],
        eta_latest=track["eta_latest"],
    ).model_dump_json()
