"""Helpers of the security suite (`tests/integration/test_api_security.py`): tallies, probes.

Each attack class is tried many times; a `Tally` counts the attempts and how many were
let in, and the suite asserts that none was. `TALLIES` keeps them for the session's end,
where `report` prints the table that README's security section quotes.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import websockets
from aiokafka import ConsumerRecord, TopicPartition
from websockets.exceptions import InvalidStatus

from contracts import TopicSpec
from devstack.services import PlatformConfig
from kafkaio.log_range import read_to_end


@dataclass
class Tally:
    """One attack class: how often it was tried and how often it got in."""

    name: str
    attempts: int = 0
    let_in: int = 0

    def count(self, admitted: bool) -> None:
        """Record one attempt."""
        self.attempts += 1
        self.let_in += int(admitted)


TALLIES: dict[str, Tally] = {}


def tally(name: str) -> Tally:
    """The session's tally of `name` (created on first use)."""
    return TALLIES.setdefault(name, Tally(name))


def report() -> str:
    """The tallies as a Markdown table (attempts, let in)."""
    lines = ["| attack | attempts | let in |", "|---|---:|---:|"]
    lines += [f"| {t.name} | {t.attempts} | {t.let_in} |" for t in TALLIES.values()]
    return "\n".join(lines)


def made_up_key() -> str:
    """A well-formed business key nobody was issued."""
    return f"dfk.{secrets.token_hex(8)}.{secrets.token_urlsafe(32)}"


def is_problem(response: httpx.Response, status: int, reason: str) -> bool:
    """Whether `response` is the RFC 9457 problem `status` with machine-readable `reason`."""
    return (
        response.status_code == status
        and response.headers.get("content-type") == "application/problem+json"
        and response.json().get("reason") == reason
    )


def metric(api: PlatformConfig, name: str) -> float:
    """A counter of the API's `/metrics` (read with the operators' key), 0 when absent."""
    answer = httpx.get(
        f"{api.api_url}/metrics", headers={"Authorization": f"Bearer {api.operator_key}"}
    )
    answer.raise_for_status()
    for line in answer.text.splitlines():
        if line.startswith(f"{name} "):
            return float(line.split()[1])
    return 0.0


def socket_status(api: PlatformConfig, delivery_id: str, token: str) -> int:
    """The HTTP status of a tracking socket's handshake (101 when accepted, then closed)."""

    async def attempt() -> int:
        try:
            socket = await open_socket(api, delivery_id, token)
        except InvalidStatus as refused:
            return refused.response.status_code
        await socket.close()
        return 101

    return asyncio.run(attempt())


async def open_socket(
    api: PlatformConfig, delivery_id: str, token: str
) -> websockets.ClientConnection:
    """An accepted tracking socket, left open for the caller to close."""
    url = api.api_url.replace("http://", "ws://") + f"/v1/deliveries/{delivery_id}/live"
    protocols = [
        websockets.Subprotocol("dronefleet.v1"),
        websockets.Subprotocol(f"bearer.{token}"),
    ]
    return await websockets.connect(url, subprotocols=protocols, origin=api.api_url)  # type: ignore[arg-type]


async def records_to_end(bootstrap: str, topic: TopicSpec) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record of `topic`, from the beginning to its end offsets now."""
    partitions = [TopicPartition(topic.name, p) for p in range(topic.partitions)]
    records: list[ConsumerRecord[bytes, bytes]] = []
    async for batch in read_to_end(bootstrap, partitions):
        for fetched in batch.fetched.values():
            records.extend(fetched)
    return records


def until(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Poll `predicate` every 100 ms until it holds; fail with `what` on timeout."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.1)
