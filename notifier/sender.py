"""One attempt: check where the URL leads, post the signed body, read a little of the answer.

Safe by default (issue 23): the URL must pass `contracts.webhooks.url_problem`, and every
address its host resolves to must pass `address_problem` at every send, so a name that
points at a private address (or is re-pointed there later) is refused. No redirects are
followed (a redirect to an internal address would undo the check). Connect and total
timeouts are short; at most `response_max_bytes` of the answer are read, then the
connection is closed. A 2xx answer is a delivery, anything else a failure.

Known gap: httpx resolves the name again to connect, so a DNS answer changed between the
check and the connection (rebinding within the TTL) is not caught.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Sequence
from datetime import datetime
from urllib.parse import urlsplit

import httpx

from contracts.webhooks import address_problem, url_problem
from notifier.attempts import Outcome
from notifier.settings import NotifierSettings
from notifier.signing import signed_headers


class Sender:
    """Posts messages with one shared HTTP client."""

    def __init__(self, settings: NotifierSettings, client: httpx.AsyncClient | None = None) -> None:
        self.settings = settings
        self.client = client or httpx.AsyncClient(
            timeout=httpx.Timeout(settings.request_timeout_s, connect=settings.connect_timeout_s),
            limits=httpx.Limits(
                max_connections=settings.max_in_flight,
                max_keepalive_connections=settings.max_in_flight,
            ),
            follow_redirects=False,
            trust_env=False,
        )

    async def close(self) -> None:
        """Close the client's connections."""
        await self.client.aclose()

    async def where_problem(self, url: str) -> str | None:
        """Why `url` may not be posted to now (its form, then its host's addresses), or None."""
        allow = self.settings.allow_private_targets
        problem = url_problem(url, allow)
        if problem is not None:
            return problem
        parts = urlsplit(url)
        host = parts.hostname or ""
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, parts.port or 443, type=socket.SOCK_STREAM
            )
        except OSError as error:
            return f"{host} does not resolve: {error}"
        for info in infos:
            problem = address_problem(str(info[4][0]), allow)
            if problem is not None:
                return f"{host} resolves to {problem}"
        return None

    async def post(
        self, url: str, secret: str | Sequence[str], message_id: str, body: bytes
    ) -> Outcome:
        """One attempt at posting `body`, signed for `message_id` with each secret.

        Never raises for the receiver.
        """
        started = time.perf_counter()
        problem = await self.where_problem(url)
        if problem is not None:
            return Outcome(False, "refused_address", None, _ms(started), problem)
        headers = signed_headers(secret, message_id, datetime.now().astimezone(), body)
        try:
            async with self.client.stream("POST", url, content=body, headers=headers) as answer:
                head = await self._read_some(answer)
                code = answer.status_code
        except httpx.TimeoutException as error:
            return Outcome(False, "timeout", None, _ms(started), type(error).__name__)
        except httpx.HTTPError as error:
            return Outcome(False, "connect_error", None, _ms(started), repr(error)[:300])
        detail = head.decode("utf-8", "replace")
        if 200 <= code < 300:
            return Outcome(True, "delivered", code, _ms(started), detail)
        return Outcome(False, "http_error", code, _ms(started), detail)

    async def _read_some(self, answer: httpx.Response) -> bytes:
        """At most `response_max_bytes` of the body; the rest is left unread."""
        limit = self.settings.response_max_bytes
        head = bytearray()
        if limit == 0:
            return b""
        async for chunk in answer.aiter_raw():
            head += chunk[: limit - len(head)]
            if len(head) >= limit:
                break
        return bytes(head)


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000.0
