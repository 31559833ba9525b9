"""The composition root of the API: `create_app(settings)`.

The lifespan starts the Kafka producer, the database pool and the tracking hub's
consumer, and stops them in reverse order. Errors become RFC 9457 problem details.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from http import HTTPStatus

from aiokafka import AIOKafkaProducer
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from psycopg_pool import AsyncConnectionPool
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.airspace import AirspaceKeeper
from api.auth_keys import KeyCache
from api.deps import Services
from api.errors import REASON_OF_STATUS, ApiError
from api.fleet_feed import FleetHub
from api.key_ledger import KeyLedger
from api.metrics import ApiMetrics, RequestTimer
from api.openapi import DESCRIPTION, install_problem_document
from api.routes import (
    airspace,
    businesses,
    deliveries,
    docs,
    fleet,
    health,
    page,
    tracking,
    webhooks,
)
from api.settings import ApiSettings
from api.throttle import RateLimits, RequestLimits, SocketCaps
from kafkaio import BatchSender
from kafkaio.connection import aiokafka_options

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


def problem(
    status: int, title: str, detail: str, reason: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    """An RFC 9457 problem-details response with its machine-readable `reason`."""
    body: dict[str, object] = {"type": "about:blank", "title": title, "status": status}
    body["detail"] = detail
    body["reason"] = reason
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _log_consumer_exit(task: asyncio.Task[None]) -> None:
    """A dead tracking consumer makes /readyz fail; the log says why."""
    if not task.cancelled() and task.exception() is not None:
        log.error("the tracking consumer stopped", exc_info=task.exception())


async def follow_airspace(settings: ApiSettings) -> tuple[AirspaceKeeper, asyncio.Task[None]]:
    """Start following the airspace topic; wait (a bounded time) for what is published."""
    keeper = AirspaceKeeper()
    caught_up = asyncio.Event()
    task = asyncio.create_task(
        keeper.follow(settings.kafka, settings.topics.airspace.name, caught_up)
    )
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(caught_up.wait(), settings.airspace_wait_s)
    if not caught_up.is_set():
        log.error("the airspace was not read within %g s; reading on", settings.airspace_wait_s)
    return keeper, task


async def follow_keys(settings: ApiSettings) -> tuple[KeyLedger, asyncio.Task[None]]:
    """Start folding the businesses topic's key events; wait (bounded) to have read them.

    Until it has, a revoked key could still pass on this process: the start waits as
    long as for the airspace, then reads on.
    """
    ledger = KeyLedger()
    caught_up = asyncio.Event()
    task = asyncio.create_task(
        ledger.follow(settings.kafka, settings.topics.businesses.name, caught_up)
    )
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(caught_up.wait(), settings.airspace_wait_s)
    if not caught_up.is_set():
        log.error(
            "the businesses' keys were not read within %g s; reading on", settings.airspace_wait_s
        )
    return ledger, task


def create_app(settings: ApiSettings) -> FastAPI:
    """Build the app for these settings."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        topics = settings.topics
        sender = BatchSender(
            lambda: AIOKafkaProducer(
                **aiokafka_options(settings.kafka), acks="all", enable_idempotence=True
            )
        )
        pool = AsyncConnectionPool(settings.database_url, min_size=1, max_size=10, open=False)
        hub = FleetHub(
            settings.ws_queue_size, settings.latest_cache_size, settings.ws_max_missed_updates
        )
        await sender.start()
        await pool.open()
        consumer = asyncio.create_task(hub.consume(settings.kafka, topics.tracking.name))
        consumer.add_done_callback(_log_consumer_exit)
        airspace, airspace_task = await follow_airspace(settings)
        ledger, ledger_task = await follow_keys(settings)
        metrics = ApiMetrics()
        metrics.watch(hub)
        metrics.gc_pauses.install()
        freezing = settings.freezing()
        freezer = asyncio.create_task(freezing) if freezing is not None else None
        app.state.services = Services(
            settings,
            topics,
            sender,
            pool,
            hub,
            metrics,
            keys=KeyCache(unknown_ttl_s=settings.unknown_key_ttl_s),
            airspace=airspace,
            ledger=ledger,
            rates=rates,
            sockets=SocketCaps(settings.ws_max_per_token, settings.ws_max_per_business),
        )
        try:
            yield
        finally:
            if freezer is not None:
                freezer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await freezer
            metrics.gc_pauses.uninstall()
            for follower in (airspace_task, ledger_task):
                follower.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await follower
            consumer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await consumer
            await pool.close()
            await sender.stop()

    app = FastAPI(
        title="dronefleet API",
        version="0.1.0",
        summary="Request drone deliveries and track them live.",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    install_problem_document(app)
    rates = RateLimits.of(settings.rate_per_address, settings.rate_per_business)
    app.add_middleware(RequestLimits, max_body_bytes=settings.max_body_bytes, rates=rates)
    app.add_middleware(RequestTimer)  # added last: outside the limits, it times their 429s

    @app.exception_handler(ApiError)
    async def api_error(_: Request, error: ApiError) -> JSONResponse:
        return problem(error.status, error.title, error.detail, error.reason, error.headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, error: StarletteHTTPException) -> JSONResponse:
        reason = REASON_OF_STATUS.get(error.status_code, "invalid_request")
        return problem(
            error.status_code, HTTPStatus(error.status_code).phrase, str(error.detail), reason
        )

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, error: RequestValidationError) -> JSONResponse:
        details = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()
        )
        return problem(422, "Invalid request", details, "invalid_request")

    app.include_router(businesses.router)
    app.include_router(deliveries.router)
    app.include_router(airspace.router)
    app.include_router(fleet.router)
    app.include_router(tracking.router)
    app.include_router(health.router)
    app.include_router(webhooks.router)
    page.mount(app, settings)
    docs.mount(app)
    return app
