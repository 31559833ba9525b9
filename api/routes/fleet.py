"""Operators: the fleet's latest state (queries) and its live feed (a websocket).

Every route needs the operators' key. The REST routes read `drone_latest_view`; the
websocket `/v1/fleet/live` sends a snapshot of every drone from that view, then every
delivery's tracking updates from this process's hub (`api.fleet_feed`), with the same
rules as a customer's websocket: Origin and key checked before accepting, the key in a
`bearer.<key>` subprotocol (never in the URL), nothing read from the client.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, WebSocket, WebSocketDisconnect, status

from api import cursors, queries
from api.auth_ws import credential_from_subprotocols, origin_allowed
from api.deps import OperatorDep, Services, ServicesDep, check_operator_key, get_services
from api.errors import ApiError, NotFoundError
from api.fleet_feed import FleetHub, FleetSubscription
from api.openapi import problem_responses
from api.schemas import (
    BatterySummaryPublic,
    DronePagePublic,
    DronePublic,
    FleetSnapshotPublic,
    FleetSummaryPublic,
    FleetUpdatePublic,
)
from api.ws_session import run_session
from contracts import TrackingUpdated

SUBPROTOCOL = "dronefleet.v1"
SILENT_AFTER_S = 60.0
SNAPSHOT_MAX_DRONES = 100_000
IDENTIFIER = r"^[^\x00-\x1f\x7f]{1,64}$"

router = APIRouter(prefix="/v1/fleet", tags=["fleet"])
rest = APIRouter(dependencies=[OperatorDep])

DroneId = Annotated[str, Path(min_length=1, max_length=64, pattern=IDENTIFIER)]


def _drone(row: dict[str, Any]) -> DronePublic:
    return DronePublic.model_validate(row)


@rest.get(
    "/drones",
    response_model=DronePagePublic,
    responses=problem_responses(401, 403, 422, 503),
)
async def list_drones(
    services: ServicesDep,
    cursor: Annotated[str | None, Query(max_length=cursors.MAX_CURSOR_LENGTH)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> DronePagePublic:
    """Every drone's latest fix, by drone id, one page at a time."""
    after = cursors.decode_drones(cursor) if cursor is not None else None
    rows = await queries.drones(services.pool, after, limit + 1)
    page = rows[:limit]
    more = len(rows) > limit
    return DronePagePublic(
        items=[_drone(row) for row in page],
        next_cursor=cursors.encode_drones(page[-1]["drone_id"]) if more else None,
    )


@rest.get(
    "/drones/{drone_id}",
    response_model=DronePublic,
    responses=problem_responses(401, 403, 404, 422, 503),
)
async def get_drone(drone_id: DroneId, services: ServicesDep) -> DronePublic:
    """One drone's latest fix."""
    row = await queries.drone(services.pool, drone_id)
    if row is None:
        raise NotFoundError("no fix of this drone yet")
    return _drone(row)


@rest.get(
    "/summary",
    response_model=FleetSummaryPublic,
    responses=problem_responses(401, 403, 503),
)
async def fleet_summary(services: ServicesDep) -> FleetSummaryPublic:
    """The fleet by phase and battery level, and how many drones went silent."""
    row = await queries.fleet_summary(services.pool, SILENT_AFTER_S)
    return FleetSummaryPublic(
        drones=row["drones"],
        on_delivery=row["on_delivery"],
        silent=row["silent"],
        silent_after_s=SILENT_AFTER_S,
        by_phase=row["by_phase"],
        battery=BatterySummaryPublic(
            min_pct=row["battery_min"],
            avg_pct=row["battery_avg"],
            max_pct=row["battery_max"],
            below_20=row["battery_below_20"],
            from_20_to_50=row["battery_20_to_50"],
            from_50_to_80=row["battery_50_to_80"],
            from_80=row["battery_80_up"],
        ),
        latest_fix_at=row["latest_fix_at"],
    )


router.include_router(rest)


def update_message(update: TrackingUpdated) -> str:
    """The JSON text frame of one tracking update on the fleet feed."""
    return FleetUpdatePublic(
        type="update",
        delivery_id=update.delivery_id,
        drone_id=update.drone_id,
        sequence=update.sequence,
        status=update.status,
        lat=update.lat,
        lon=update.lon,
        altitude_m=update.altitude_m,
        remaining_m=update.remaining_m,
        eta=update.eta,
        observed_at=update.occurred_at,
    ).model_dump_json()


@router.websocket("/live")
async def fleet_live(websocket: WebSocket) -> None:
    """Stream the whole fleet to an operator: a snapshot, then every tracking update."""
    services = get_services(websocket)  # type: ignore[arg-type]
    if not origin_allowed(websocket.headers.get("origin"), services.settings.allowed_origins):
        services.metrics.ws_refused.labels("origin").inc()
        await websocket.close(code=status.WS_1008_POLICY_VIOLATION, reason="origin not allowed")
        return
    try:
        check_operator_key(
            services.settings,
            credential_from_subprotocols(websocket.scope.get("subprotocols", [])),
        )
    except ApiError:
        services.metrics.ws_refused.labels("operator_key").inc()
        await websocket.close(code=status.WS_1008_POLICY_VIOLATION, reason="not authorized")
        return
    hub = services.hub
    if not isinstance(hub, FleetHub):  # the lifespan builds a FleetHub; a test may not
        await websocket.close(code=status.WS_1011_INTERNAL_ERROR, reason="no fleet feed")
        return
    subscription = hub.subscribe_fleet()  # before the snapshot: no update falls between
    services.metrics.ws_connections.inc()
    try:
        await websocket.accept(subprotocol=SUBPROTOCOL)
        await run_session(websocket, _send(websocket, subscription, services), subscription.dropped)
    except WebSocketDisconnect:
        return
    finally:
        hub.unsubscribe_fleet(subscription)
        services.metrics.ws_connections.dec()


async def _send(websocket: WebSocket, subscription: FleetSubscription, services: Services) -> None:
    """The snapshot of every drone, then the coalesced updates, batch after batch."""
    try:
        drones = await queries.drones(services.pool, None, SNAPSHOT_MAX_DRONES)
    except ApiError:
        drones = []  # the live updates still flow; the snapshot is a convenience
    snapshot = FleetSnapshotPublic(type="snapshot", drones=[_drone(row) for row in drones])
    await websocket.send_text(snapshot.model_dump_json())
    while True:
        for update in await subscription.take():
            await websocket.send_text(update_message(update))
            services.metrics.ws_messages.inc()
            services.metrics.observe_sent("fleet", update)
