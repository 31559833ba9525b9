"""One websocket session's tasks: our sender, the client's frames, and the hub's drop.

Both live feeds (a customer's delivery, the operators' fleet) are one-way and run the
same race: the sender writes until it is done, the client disconnects, or the hub drops
a client that stopped reading. Whichever comes first ends the session and cancels the
other two. A client that stops reading blocks only its own sender; its subscription
coalesces until the hub drops it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any

from fastapi import WebSocket, WebSocketDisconnect


async def run_session(
    websocket: WebSocket, sender: Coroutine[Any, Any, None], dropped: asyncio.Event
) -> None:
    """Run `sender` against the client's disconnect and the hub's drop; cancel the losers.

    Returning after a drop sends no close frame: it could not be written anyway (the
    client reads nothing), and uvicorn closes the transport.
    """
    tasks = (
        asyncio.create_task(sender),
        asyncio.create_task(_drain_incoming(websocket)),
        asyncio.create_task(dropped.wait()),
    )
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect):
                await task


async def _drain_incoming(websocket: WebSocket) -> None:
    """Read (and ignore) client frames until it disconnects: the feeds are one-way."""
    while True:
        incoming = await websocket.receive()
        if incoming["type"] == "websocket.disconnect":
            return
