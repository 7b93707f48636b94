"""``GET /api/ai/chat/<blockId>`` upgraded to a WebSocket: the front door of ai@7's
``WebSocketChatTransport`` (docs/api.md#websocket).

HTTP only, like the SSE door (``chat.py``) beside it: frames in are parsed into the same
``TurnRequest`` and handed to the same core; what comes back is the same live stream of encoded
chunks, framed as ``{"type": "chunk", "requestId", "sequence", "chunk"}``. A chunk's
``sequence`` is its position in the live stream, so ``resume {lastSequence}`` after a reconnect
is ``follow(stream, lastSequence + 1)``: no chunk twice, none missing.

Frames in: ``send`` (a useChat request: ``body`` is the transport's extra fields, ``headers``
the per-request headers a browser cannot put on the handshake), ``resume`` and ``abort``. Frames
out: ``start``, ``chunk``, ``end``, ``error {errorText}`` and ``no-active``. An ``abort`` is a
stop (the partial answer is saved, ``interrupted``); a closed socket is a disconnect, and the
core applies ``--cancel-on-disconnect`` exactly as for SSE. The handshake passed the security
middleware first (Host, Origin, token: docs/security.md#websocket).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import orjson
from aiohttp import ClientConnectionResetError, WSMsgType, web
from multidict import CIMultiDict

from backend.aisdk.request import parse_chat_request
from backend.chat.streams import ActiveStream
from backend.errors import ChatwireError, RequestError
from backend.request_limits import check_messages, parse_json
from backend.web.app_keys import CHAT, SETTINGS
from backend.web.chat import turn_request
from backend.web.common import block_id_from, current_user, json_response
from backend.web.sinks import SocketSink

logger = logging.getLogger(__name__)

# The subprotocol the server selects when the client offers it (a browser client that sends its
# token as a ``chatwire.bearer.<token>`` subprotocol must also offer this one: docs/security.md).
SUBPROTOCOL = "chatwire"
# The body keys a ``send`` frame sets itself, as DefaultChatTransport's POST body does.
SEND_KEYS = ("id", "messages", "trigger", "messageId")


class FrameError(Exception):
    """A frame the protocol does not allow; answered with an ``error`` frame."""


def _string_map(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(item, str) for item in value.values()):
        raise FrameError("headers must be an object of strings.")
    return value


def _object(value: Any, field: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise FrameError(f"{field} must be a JSON object.")
    return value


class ChatSocket:
    """One connection: its requests in flight (``requestId`` → the task following a stream)."""

    def __init__(self, request: web.Request, socket: web.WebSocketResponse, block_id: str) -> None:
        self.request = request
        self.socket = socket
        self.block_id = block_id
        self.followers: dict[str, asyncio.Task[None]] = {}
        self.streams: dict[str, ActiveStream] = {}
        self._sending = asyncio.Lock()

    async def send(self, frame: dict[str, Any]) -> None:
        await self.send_raw(orjson.dumps(frame))

    async def send_raw(self, frame: bytes) -> None:
        async with self._sending:  # frames of concurrent requests must not interleave
            await self.socket.send_str(frame.decode())

    async def handle(self, text: str) -> None:
        settings = self.request.app[SETTINGS]
        try:
            frame = await parse_json(text.encode(), settings.limits)
        except RequestError as error:
            # No request id to answer: the transport cannot correlate it, so the connection ends.
            raise FrameError(f"Invalid frame: {error}") from None
        if not isinstance(frame, dict) or not isinstance(frame.get("requestId"), str):
            raise FrameError("Invalid frame: an object with a string requestId is required.")
        request_id: str = frame["requestId"]
        kind = frame.get("type")
        try:
            if kind == "send":
                await self.start(request_id, frame)
            elif kind == "resume":
                await self.resume(request_id, frame)
            elif kind == "abort":
                await self.abort(request_id)
            else:
                raise FrameError(f"Unknown frame type {str(kind)[:40]!r}: send, resume or abort.")
        except (FrameError, ChatwireError) as error:
            message = error.public_message if isinstance(error, ChatwireError) else str(error)
            code = error.code if isinstance(error, ChatwireError) else "invalid_frame"
            await self.send({"type": "error", "requestId": request_id, "errorText": f"{message} [{code}]"})

    async def start(self, request_id: str, frame: dict[str, Any]) -> None:
        if request_id in self.followers:
            raise FrameError(f"requestId {request_id[:40]!r} is already in use on this connection.")
        headers = CIMultiDict(_string_map(frame.get("headers")))
        payload = {**_object(frame.get("body"), "body"), **{key: frame.get(key) for key in SEND_KEYS}}
        await check_messages(payload.get("messages"), self.request.app[SETTINGS].limits)
        body = parse_chat_request(payload)
        turn = turn_request(self.block_id, body, payload, self.request, headers)
        stream = await self.request.app[CHAT].start(turn)
        self.follow(request_id, stream, 0)

    async def resume(self, request_id: str, frame: dict[str, Any]) -> None:
        last = frame.get("lastSequence")
        if last is not None and (not isinstance(last, int) or isinstance(last, bool) or last < 0):
            raise FrameError("lastSequence must be a non-negative integer.")
        chat_id = frame.get("id")
        stream = await self.request.app[CHAT].resume(
            current_user(self.request), self.block_id, chat_id if isinstance(chat_id, str) else ""
        )
        if stream is None:
            await self.send({"type": "no-active", "requestId": request_id})
            return
        # The chunk numbered ``last`` arrived; continue with the next one.
        self.follow(request_id, stream, 0 if last is None else last + 1)

    async def abort(self, request_id: str) -> None:
        """A stop: the answer ends ``interrupted`` and is saved (the transport already forgot the request)."""
        stream = self.streams.get(request_id)
        if stream is not None and not stream.done:
            await self.request.app[CHAT].stop(current_user(self.request), stream.block_id)

    def follow(self, request_id: str, stream: ActiveStream, position: int) -> None:
        self.streams[request_id] = stream
        task = asyncio.create_task(self._pump(request_id, stream, position), name=f"ws:{request_id[:40]}")
        self.followers[request_id] = task
        task.add_done_callback(lambda _: self._forget(request_id, task))

    def _forget(self, request_id: str, task: asyncio.Task[None]) -> None:
        if self.followers.get(request_id) is task:
            del self.followers[request_id]
            self.streams.pop(request_id, None)

    async def _pump(self, request_id: str, stream: ActiveStream, position: int) -> None:
        sink = SocketSink(self.request, self.socket, orjson.dumps(request_id), self._sending)
        try:
            await self.send({"type": "start", "requestId": request_id})
            await self.request.app[CHAT].deliver(stream, sink, position)
            await sink.settle()
            await self.send({"type": "end", "requestId": request_id})
        except (ConnectionResetError, ClientConnectionResetError):
            pass  # the socket closed; the core decides whether the answer goes on

    async def close(self) -> None:
        """The socket closed: stop following (a disconnect, as when an SSE client goes away)."""
        tasks = list(self.followers.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def chat_socket(request: web.Request) -> web.StreamResponse:
    """The WebSocket upgrade of the chat path; a plain GET gets a 400 saying how to use it."""
    block_id = block_id_from(request)
    settings = request.app[SETTINGS]
    socket = web.WebSocketResponse(
        protocols=(SUBPROTOCOL,),
        heartbeat=settings.keepalive_seconds,
        max_msg_size=settings.max_body_bytes,
    )
    if not socket.can_prepare(request).ok:
        return json_response(
            {
                "error": {
                    "code": "websocket_expected",
                    "message": "GET on the chat path is the WebSocket transport: connect with "
                    "WebSocketChatTransport (ws://…/api/ai/chat/<blockId>), or POST a useChat body.",
                }
            },
            status=400,
        )
    await socket.prepare(request)
    connection = ChatSocket(request, socket, block_id)
    try:
        async for message in socket:
            if message.type != WSMsgType.TEXT:
                continue  # binary frames are not part of the protocol; close/error end the loop
            try:
                await connection.handle(message.data)
            except FrameError as error:
                # Without a usable requestId nothing can be answered: 1007, invalid payload data.
                await socket.close(code=1007, message=str(error)[:120].encode())
                break
    finally:
        await connection.close()
    return socket
