"""The limits of `api.throttle` and the key cache's memory of unknown keys, in-process."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from api.auth_keys import KeyCache, KnownKey
from api.errors import RateLimitedError
from api.throttle import RateLimits, RequestLimits, SocketCaps


def limited_app(max_body_bytes: int, rates: RateLimits | None) -> tuple[Starlette, list[int]]:
    """An app that counts the requests its route saw, behind the middleware."""
    seen: list[int] = []

    async def echo(request: Request) -> JSONResponse:
        body = await request.body()
        seen.append(len(body))
        return JSONResponse({"length": len(body)})

    app = Starlette(routes=[Route("/echo", echo, methods=["POST"]), Route("/healthz", echo)])
    app.add_middleware(RequestLimits, max_body_bytes=max_body_bytes, rates=rates)
    return app, seen


async def test_a_declared_oversized_body_is_refused_before_the_route() -> None:
    app, seen = limited_app(1024, None)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as client:
        small = await client.post("/echo", content=b"x" * 1024)
        big = await client.post("/echo", content=b"x" * 1025)
    assert small.status_code == 200 and seen == [1024]
    assert big.status_code == 413 and big.json()["reason"] == "body_too_large"
    assert big.headers["content-type"] == "application/problem+json"


async def test_a_chunked_body_is_cut_off_at_the_limit() -> None:
    app, _ = limited_app(1024, None)

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(100):
            yield b"y" * 512

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as client:
        answer = await client.post("/echo", content=chunks())  # no Content-Length
    assert answer.status_code == 413 and answer.json()["reason"] == "body_too_large"


async def test_a_client_address_past_its_rate_gets_429_with_retry_after() -> None:
    app, seen = limited_app(1024, RateLimits.of("5/minute", "5/minute"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as client:
        answers = [await client.post("/echo", content=b"{}") for _ in range(8)]
        probes = [await client.get("/healthz") for _ in range(3)]
    assert [a.status_code for a in answers] == [200] * 5 + [429] * 3
    assert len(seen) == 5 + 3  # the health probes are never limited
    assert all(p.status_code == 200 for p in probes)
    refused = answers[-1]
    assert refused.json()["reason"] == "rate_limited"
    assert 1 <= int(refused.headers["retry-after"]) <= 60


def test_each_business_has_its_own_budget() -> None:
    rates = RateLimits.of("100/second", "3/minute")
    for _ in range(3):
        rates.check_business("a")
    for _ in range(10):
        with pytest.raises(RateLimitedError) as refused:
            rates.check_business("a")
        assert refused.value.status == 429 and int(refused.value.headers["Retry-After"]) >= 1
    rates.check_business("b")  # another business is not affected


def test_socket_caps_per_token_and_per_business_and_release() -> None:
    caps = SocketCaps(max_per_token=2, max_per_business=3)
    assert caps.admit("t1", "b") and caps.admit("t1", "b")
    assert not caps.admit("t1", "b")  # the token's cap
    assert caps.admit("t2", "b")
    assert not caps.admit("t3", "b")  # the business's cap
    assert caps.admit("t3", None)  # an old token without its business: the token's cap only
    caps.release("t1", "b")
    assert caps.admit("t4", "b")
    for token in ("t1", "t2", "t4"):
        caps.release(token, "b")
    caps.release("t3", None)
    assert not caps.by_token and not caps.by_business


def test_unknown_key_ids_are_remembered_for_a_short_time_only() -> None:
    cache = KeyCache(size=2, ttl_s=300, unknown_ttl_s=30)
    cache.put_unknown("k1", now=0)
    assert cache.known_unknown("k1", now=29) and not cache.known_unknown("k1", now=31)
    cache.put_unknown("k2", now=0)
    cache.put("k2", KnownKey("b", "h"), now=1)  # registered meanwhile: known from now on
    assert not cache.known_unknown("k2", now=2) and cache.get("k2", now=2) is not None
    for index in range(5):  # a flood of made-up ids stays bounded
        cache.put_unknown(f"x{index}", now=3)
    assert cache.get("k2", now=4) is not None and len(cache._unknown) == 2


def test_a_pending_key_this_process_issued_is_never_remembered_as_unknown() -> None:
    cache = KeyCache(unknown_ttl_s=30)
    cache.expect("k1")
    cache.put_unknown("k1", now=0)
    assert not cache.known_unknown("k1", now=1)
    cache.put("k1", KnownKey("b", "h"), now=2)  # projected: an ordinary known key from now on
    cache.put_unknown("k2", now=2)
    assert cache.known_unknown("k2", now=3)
