"""``POST /api/ai/chat/<blockId>``, its resume ``GET`` and ``stop``: the useChat SSE front door.

HTTP only: parse the body (and the ``X-AI-*`` headers) into a ``TurnRequest``, let the core
start or find the answer, and frame its chunks as SSE ``data:`` lines, with keep-alive
comments while the model is silent and ``data: [DONE]`` at the end.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from aiohttp import ClientConnectionResetError, web

from backend.aisdk.request import ChatRequestBody, parse_chat_request
from backend.chat.streams import ActiveStream
from backend.chat.turn import TurnRequest
from backend.errors import RequestError
from backend.messages import ToolDefinition
from backend.request_limits import check_messages
from backend.web.app_keys import CHAT, SETTINGS
from backend.web.common import block_id_from, current_user, json_response, read_json
from backend.web.ops import client_identity
from backend.web.sinks import ResponseSink

logger = logging.getLogger(__name__)

STREAM_HEADERS = {
    "Content-Type": "text/event-stream",
    # no-transform: proxies must not compress or buffer the stream.
    "Cache-Control": "no-cache, no-transform",
    "Connection": "keep-alive",
    "X-Vercel-AI-UI-Message-Stream": "v1",
    "X-Accel-Buffering": "no",
}

# Header overrides (the body's ``options`` win over these).
HEADER_OPTIONS = {"X-AI-Model": "model", "X-AI-Temperature": "temperature"}


def request_options(headers: Mapping[str, str], body_options: Mapping[str, Any] | None) -> dict[str, Any]:
    """The request layer: ``X-AI-*`` headers, then the body's ``options`` over them."""
    options = {option: headers[header] for header, option in HEADER_OPTIONS.items() if header in headers}
    options.update(body_options or {})
    return options


def protocol_from(request: web.Request, headers: Mapping[str, str] | None = None) -> int | None:
    """The client's ai major from ``?protocol=`` (or the ``X-AI-Protocol`` header): ``5``, ``6``,
    ``7`` (``v6`` and ``ai@6`` are read the same). The core checks the value."""
    text = request.query.get("protocol") or (request.headers if headers is None else headers).get("X-AI-Protocol")
    if not text:
        return None
    digits = text.strip().lower().removeprefix("ai@").removeprefix("v")
    if not digits.isdigit() or len(digits) > 3:
        raise RequestError(
            f"protocol: {text[:20]!r} is not an ai major (5, 6 or 7).",
            code="bad_request",
            details={"field": "protocol"},
        )
    return int(digits)


def turn_request(
    block_id: str,
    body: ChatRequestBody,
    payload: dict[str, Any],
    request: web.Request,
    headers: Mapping[str, str] | None = None,
) -> TurnRequest:
    """The core's request from a parsed body; ``headers`` are the request's own unless a front
    door carries them elsewhere (a WebSocket ``send`` frame)."""
    headers = request.headers if headers is None else headers
    declared = None
    if body.tools is not None:
        declared = tuple(ToolDefinition(tool.name, tool.description, dict(tool.inputSchema)) for tool in body.tools)
    if body.config:
        # A browser-chosen API key, base URL or model is never honoured (docs/api.md#third-party-uis);
        # only the key names are logged, never their values.
        logger.warning("ignored the request body's config %r: the preset decides", sorted(body.config)[:10])
    return TurnRequest(
        block_id=block_id,
        messages=payload["messages"],
        chat_id=body.id,
        url_preset=request.query.get("preset"),
        options=request_options(headers, body.options),
        call_settings=body.callSettings,
        system=body.system,
        client_tools=declared,
        load_history=body.loadHistory,
        client_id=client_identity(request),
        protocol=protocol_from(request, headers),
        user=current_user(request),
    )


async def post_chat(request: web.Request) -> web.StreamResponse:
    block_id = block_id_from(request)
    payload = await read_json(request)
    # Counts, sizes, depth and metadata before the schema check (backend/request_limits.py).
    if isinstance(payload, dict):
        await check_messages(payload.get("messages"), request.app[SETTINGS].limits)
    body = parse_chat_request(payload)
    stream = await request.app[CHAT].start(turn_request(block_id, body, payload, request))
    return await follow(request, stream)


async def follow(request: web.Request, stream: ActiveStream) -> web.StreamResponse:
    """Write the stream as SSE (replay + live) to this client until it ends or disconnects."""
    response = web.StreamResponse(status=200, headers=STREAM_HEADERS)
    await response.prepare(request)
    sink = ResponseSink(request, response)
    try:
        await request.app[CHAT].deliver(stream, sink)
        await sink.end()
    except (ConnectionResetError, ClientConnectionResetError):
        pass  # the client went away (closed tab); the core decides whether the answer goes on
    return response


async def resume_chat(request: web.Request) -> web.StreamResponse:
    """What ``useChat({resume: true})`` calls: replay the active stream, or 204 when none."""
    stream = await request.app[CHAT].resume(
        current_user(request), block_id_from(request), request.match_info["chat_id"]
    )
    if stream is None:
        return web.Response(status=204)
    return await follow(request, stream)


async def stop_chat(request: web.Request) -> web.Response:
    block_id = block_id_from(request)
    stream = await request.app[CHAT].stop(current_user(request), block_id)
    if stream is None:
        return json_response({"stopped": False, "blockId": block_id})
    return json_response({"stopped": True, "blockId": block_id, "messageId": stream.message_id})
