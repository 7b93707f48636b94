"""The front doors' connections as ``ChunkSink``s (``backend/chat/streams.py``): an SSE response
and one WebSocket request's chunk frames.

``offer`` is called from the generation's side, once a follower has caught up, and must not
wait: it refuses (and the follower catches up on its own task with ``write``) unless aiohttp's write
would hand the bytes to the transport at once: the transport is open, not paused by its
high-water mark, and no write of this connection is in flight. It then runs aiohttp's own write
coroutine one step (:func:`write_at_once`), which is the whole write: aiohttp only suspends
after handing the bytes over, to drain a full buffer. If it does suspend (the buffer filled just
then), a small task finishes it, and the sink refuses offers and awaits that task before its
next write, so bytes never overtake each other.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from aiohttp import web

logger = logging.getLogger(__name__)

KEEPALIVE_LINE = b": keep-alive\n\n"
DONE_LINE = b"data: [DONE]\n\n"
# aiohttp compresses larger WebSocket frames on an executor (the write waits before sending):
# such frames go the awaited way.
SOCKET_OFFER_LIMIT = 16 * 1024


def write_at_once(write: Coroutine[Any, Any, None]) -> asyncio.Task[None] | None:
    """Run an aiohttp write coroutine without yielding to the loop: None when it finished, else
    the task that finishes it (it suspended to drain, its bytes already with the transport).
    What it raises (a closed transport) is raised here."""
    try:
        waiting = write.send(None)
    except StopIteration:
        return None
    return asyncio.ensure_future(_finish(write, waiting))


async def _finish(write: Coroutine[Any, Any, None], waiting: Any) -> None:
    """Drive the rest of ``write`` as a task would: resume it each time what it awaits is done."""
    try:
        while True:
            if isinstance(waiting, asyncio.Future):
                await asyncio.wait([waiting])
            else:
                await asyncio.sleep(0)  # a bare yield
            waiting = write.send(None)
    except StopIteration:
        return
    except Exception as error:  # a closed connection: the follower's next write raises it again
        logger.debug("an offered write ended with %r", error)
    finally:
        write.close()


class _Sink:
    """What both doors' sinks share: the write in flight, and whether the transport takes bytes now."""

    def __init__(self, request: web.Request) -> None:
        self._request = request
        self._in_flight: asyncio.Task[None] | None = None

    def _ready(self) -> bool:
        if self._in_flight is not None:
            if not self._in_flight.done():
                return False
            self._in_flight = None
        transport = self._request.transport
        return transport is not None and not transport.is_closing() and not self._request.protocol.writing_paused

    async def settle(self) -> None:
        """Wait for an offered write that had to drain (bytes stay in order)."""
        if self._in_flight is not None:
            in_flight, self._in_flight = self._in_flight, None
            await in_flight


def sse_events(chunks: list[bytes]) -> bytes:
    """The chunks as SSE ``data:`` events, in one piece (one write, one HTTP chunk)."""
    return b"data: " + b"\n\ndata: ".join(chunks) + b"\n\n"


class ResponseSink(_Sink):
    """An SSE response: each chunk a ``data:`` line."""

    def __init__(self, request: web.Request, response: web.StreamResponse) -> None:
        super().__init__(request)
        self._response = response

    def offer(self, position: int, chunks: list[bytes]) -> int:
        if not self._ready():
            return 0
        self._in_flight = write_at_once(self._response.write(sse_events(chunks)))
        return len(chunks)

    async def write(self, position: int, chunks: list[bytes]) -> None:
        await self.settle()
        await self._response.write(sse_events(chunks))

    async def keep_alive(self) -> None:
        await self.settle()
        await self._response.write(KEEPALIVE_LINE)

    async def end(self) -> None:
        await self.settle()
        await self._response.write(DONE_LINE)


class SocketSink(_Sink):
    """One WebSocket request's chunks: ``{"type": "chunk", "requestId", "sequence", "chunk"}``
    frames, the sequence being the chunk's position in the stream. ``sending`` is the lock that
    keeps the frames of the connection's concurrent requests apart."""

    def __init__(self, request: web.Request, socket: web.WebSocketResponse, request_id: bytes, sending: asyncio.Lock):
        super().__init__(request)
        self._socket = socket
        self._sending = sending
        self._prefix = b'{"type":"chunk","requestId":' + request_id + b',"sequence":'

    def _frame(self, position: int, chunk: bytes) -> str:
        return (self._prefix + str(position).encode() + b',"chunk":' + chunk + b"}").decode()

    def offer(self, position: int, chunks: list[bytes]) -> int:
        taken = 0
        for chunk in chunks:  # one frame each, while the socket takes them at once
            if self._sending.locked() or self._socket.closed or len(chunk) > SOCKET_OFFER_LIMIT or not self._ready():
                break
            self._in_flight = write_at_once(self._socket.send_str(self._frame(position + taken, chunk)))
            taken += 1
        return taken

    async def write(self, position: int, chunks: list[bytes]) -> None:
        await self.settle()
        async with self._sending:
            for offset, chunk in enumerate(chunks):
                await self._socket.send_str(self._frame(position + offset, chunk))

    async def keep_alive(self) -> None:
        return None  # the socket's own heartbeat keeps proxies awake
