"""A client that stops reading hurts nobody: bounded memory, dropped, others served.

The real app runs in-process (uvicorn, the hub, Kafka's tracking topic); 100 clients
and one stalled client follow the same delivery. Updates go out in lock-step: the next
one is produced when every reading client has the previous one, so "the others got
every update, in order" is an exact count, with no timing in the assertions. The
stalled client offers a tiny receive window and never reads, so the server's send to
it blocks after a few hundred frames; from then on its queue coalesces, and after
`ws_max_missed_updates` misses the hub drops it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import uuid
from collections import Counter

import httpx
import websockets
from aiokafka import AIOKafkaProducer

from contracts import Topics, encode_event, utc_now
from devstack.settings import StackSettings
from tests.support.api_server import ServedApi, api_settings, serving
from tests.support.factories import tracking

READERS = 100
MAX_MISSED = 20
MAX_ROUNDS = 3_000  # the stall needs a few hundred; more means it is never dropped
ROUNDS_AFTER_DROP = 20
HIGH_WATER = 64 * 1024  # asyncio's default: uvicorn stops writing to a transport above it
FRAME = 4096  # far more than one tracking frame


async def stalled_client(api: ServedApi, delivery_id: str) -> websockets.ClientConnection:
    """A client that completes the handshake, then never reads (a 4 KiB receive window)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", api.port))
    return await websockets.connect(
        api.live_url(delivery_id),
        sock=sock,
        subprotocols=["dronefleet.v1", f"bearer.{api.token(delivery_id)}"],  # type: ignore[list-item]
        max_queue=1,
        ping_interval=None,
    )


async def test_a_client_that_stops_reading_is_dropped_and_the_others_get_every_update(
    running_stack: StackSettings, topics: Topics, database: str
) -> None:
    # A small kernel send buffer (the default is 64 KiB) makes the stall come sooner.
    settings = api_settings(
        running_stack.kafka_bootstrap,
        topics,
        database,
        ws_max_missed_updates=MAX_MISSED,
        socket_send_buffer_bytes=16 * 1024,
        ws_max_per_token=READERS + 1,  # every client follows the one delivery with one token
    )
    delivery_id = uuid.uuid4().hex
    async with serving(settings, tracking(f"probe-{delivery_id}")) as api:
        hub = api.services.hub
        received: list[list[int]] = [[] for _ in range(READERS)]
        reached: Counter[int] = Counter()
        round_done = asyncio.Event()
        current = 0

        async def read(index: int, connection: websockets.ClientConnection) -> None:
            async for frame in connection:
                sequence = json.loads(frame)["sequence"]
                received[index].append(sequence)
                reached[sequence] += 1
                if sequence == current and reached[sequence] == READERS:
                    round_done.set()

        subprotocols = ["dronefleet.v1", f"bearer.{api.token(delivery_id)}"]
        readers = [
            await websockets.connect(api.live_url(delivery_id), subprotocols=subprotocols)  # type: ignore[arg-type]
            for _ in range(READERS)
        ]
        stalled = await stalled_client(api, delivery_id)
        tasks = [asyncio.create_task(read(i, c)) for i, c in enumerate(readers)]
        producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
        await producer.start()
        peak_buffer = peak_queued = 0
        dropped_at: int | None = None
        try:
            assert hub.subscribers(delivery_id) == READERS + 1
            while dropped_at is None or current < dropped_at + ROUNDS_AFTER_DROP:
                assert current < MAX_ROUNDS, "the stalled client was never dropped"
                current += 1
                round_done.clear()
                update = tracking(delivery_id, current, utc_now())
                await producer.send_and_wait(
                    topics.tracking.name, encode_event(update), key=delivery_id.encode()
                )
                await asyncio.wait_for(round_done.wait(), timeout=60)
                peak_buffer = max(peak_buffer, *api.write_buffers())
                peak_queued = max(peak_queued, hub.queued())
                if dropped_at is None and hub.dropped:
                    dropped_at = current
        finally:
            await producer.stop()
            stalled.transport.abort()  # it would never read the close handshake
            for connection in readers:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(connection.close(), timeout=5)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        assert dropped_at is not None and dropped_at > MAX_MISSED
        assert hub.dropped == 1, "only the stalled client is dropped"
        assert all(sequences == list(range(1, current + 1)) for sequences in received), (
            "every reading client got every update, in order, before and after the drop"
        )
        assert peak_queued <= READERS + 1, "at most one queued update per client"
        assert peak_buffer <= HIGH_WATER + FRAME, "the stalled client's unsent bytes stay bounded"
        async with httpx.AsyncClient() as client:
            answer = await client.get(f"{api.url}/metrics", headers=api.operator_headers)
            metrics = answer.text.splitlines()
        assert "dronefleet_ws_dropped_total 1.0" in metrics
