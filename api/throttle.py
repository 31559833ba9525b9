"""Limits on what one client can make the API do: body size, request rates, open sockets.

Why each, and where it sits:
- `RequestLimits` is the outermost ASGI middleware: a declared `Content-Length` over
  `max_body_bytes` is answered 413 before any route, dependency or authentication runs;
  a chunked body is counted as it is read and cut off at the limit (the app sees the
  client gone, and the answer is still the 413), so no one makes the API buffer more.
- `RateLimits` counts requests per client address (in the same middleware, before
  authentication: anonymous floods of made-up keys stop here, before the database) and
  per business (after authentication, all its keys together). The counting is the
  `limits` library's moving window: like a token bucket of `N` tokens refilled at
  `N` per period it admits a burst of `N` and then one per token back, and it says when
  the next request is admitted, which is the answer's `Retry-After`. The counters are in
  the process's memory: each API replica limits on its own (a client spread over `R`
  replicas by a balancer gets up to `R` times the rate), which needs no shared store
  and costs microseconds a request.
- `SocketCaps` bounds the tracking sockets one token, and the deliveries of one
  business, keep open on this process.

Health probes are never limited: a busy client must not make the orchestrator think
the API is dead.
"""

from __future__ import annotations

import json
import math
import time
from collections import Counter
from dataclasses import dataclass, field

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import RateLimitedError

PROBLEM_JSON = b"application/problem+json"
UNLIMITED_PATHS = frozenset({"/healthz", "/readyz"})


@dataclass
class RateLimits:
    """The per-address and per-business limits of one API process."""

    per_address: RateLimitItem
    per_business: RateLimitItem
    limiter: MovingWindowRateLimiter = field(
        default_factory=lambda: MovingWindowRateLimiter(MemoryStorage())
    )

    @classmethod
    def of(cls, per_address: str, per_business: str) -> RateLimits:
        """The limits in `limits` notation (`100/second`, `600/minute`)."""
        return cls(parse(per_address), parse(per_business))

    def check_address(self, address: str) -> None:
        """Count one request from `address`; raise `RateLimitedError` past the limit."""
        self._hit(self.per_address, "address", address)

    def check_business(self, business_id: str) -> None:
        """Count one request of `business_id`; raise `RateLimitedError` past the limit."""
        self._hit(self.per_business, "business", business_id)

    def _hit(self, item: RateLimitItem, kind: str, who: str) -> None:
        if self.limiter.hit(item, kind, who):
            return
        reset_at = self.limiter.get_window_stats(item, kind, who).reset_time
        raise RateLimitedError(
            f"more than {item} requests per {kind}; try again later",
            math.ceil(reset_at - time.time()),
        )


@dataclass
class SocketCaps:
    """Open tracking sockets per token and per business, on this process."""

    max_per_token: int
    max_per_business: int
    by_token: Counter[str] = field(default_factory=Counter)
    by_business: Counter[str] = field(default_factory=Counter)

    def admit(self, token: str, business_id: str | None) -> bool:
        """Count a new socket of `token` (and its business) unless a cap is reached."""
        if self.by_token[token] >= self.max_per_token:
            return False
        if business_id is not None and self.by_business[business_id] >= self.max_per_business:
            return False
        self.by_token[token] += 1
        if business_id is not None:
            self.by_business[business_id] += 1
        return True

    def release(self, token: str, business_id: str | None) -> None:
        """Forget a closed socket (and drop empty counters, so memory follows open sockets)."""
        _decrement(self.by_token, token)
        if business_id is not None:
            _decrement(self.by_business, business_id)


def _decrement(counts: Counter[str], key: str) -> None:
    counts[key] -= 1
    if counts[key] <= 0:
        del counts[key]


def problem_body(status: int, title: str, detail: str, reason: str) -> bytes:
    """An RFC 9457 problem document (what `api.main.problem` sends), as bytes."""
    document = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        "reason": reason,
    }
    return json.dumps(document).encode()


class _BodyTooLarge:
    """Whether the request being served went past the limit (set by the counting receive)."""

    exceeded = False


class RequestLimits:
    """ASGI middleware: the per-address rate and the body-size limit, before all else."""

    def __init__(self, app: ASGIApp, max_body_bytes: int, rates: RateLimits | None) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.rates = rates

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in UNLIMITED_PATHS:
            await self.app(scope, receive, send)
            return
        if self.rates is not None:
            client = scope.get("client")
            try:
                self.rates.check_address(client[0] if client else "unknown")
            except RateLimitedError as limited:
                await _send_problem(
                    send, 429, limited.title, limited.detail, "rate_limited", limited.headers
                )
                return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_body_bytes:
            await self._refuse(send)
            return
        state = _BodyTooLarge()
        counted = 0

        async def counting_receive() -> Message:
            nonlocal counted
            message = await receive()
            if message["type"] == "http.request":
                counted += len(message.get("body", b""))
                if counted > self.max_body_bytes:
                    state.exceeded = True
                    return {"type": "http.disconnect"}
            return message

        started = False

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if state.exceeded:
                if not started:
                    started = True
                    await self._refuse(send)
                return  # whatever the app answers to a cut-off body, the client gets the 413
            started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not state.exceeded:
                raise
            # the app saw the client gone (Starlette's ClientDisconnect): answer the 413
        if state.exceeded and not started:
            await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        await _send_problem(
            send,
            413,
            "Request body too large",
            f"request bodies are limited to {self.max_body_bytes} bytes",
            "body_too_large",
            {"Connection": "close"},
        )


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _send_problem(
    send: Send, status: int, title: str, detail: str, reason: str, headers: dict[str, str]
) -> None:
    body = problem_body(status, title, detail, reason)
    raw_headers = [
        (b"content-type", PROBLEM_JSON),
        (b"content-length", str(len(body)).encode()),
        *((name.lower().encode(), value.encode()) for name, value in headers.items()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})
