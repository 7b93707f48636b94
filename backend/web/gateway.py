"""What the two compatible front doors (``openai_api.py``, ``anthropic_api.py``) share over HTTP:
the turn request they build, the statuses of their errors, and the first event of an answer.

Decisions (docs/gateway.md): every answer is stateless (a fresh block id per request, nothing
saved; ``X-Chatwire-Block`` is refused with 501 until storing gateway answers exists); the
caller's tools are all client tools and the preset's Chatwire-run tools are not offered; the
``model`` field names a preset (the URL layer), the parameters are the request layer.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any

from aiohttp import ClientConnectionResetError, web

from backend.chat.turn import TurnRequest
from backend.errors import ErrorCategory, RequestError
from backend.events import ChatError, ChatEvent
from backend.gateway.common import GatewayRequest
from backend.web.common import BLOCK_ID_PATTERN, STATUS_BY_CODE, current_user, json_response
from backend.web.ops import client_identity

BLOCK_HEADER = "X-Chatwire-Block"
STREAM_HEADERS = {
    "Content-Type": "text/event-stream",
    "Cache-Control": "no-cache, no-transform",
    "Connection": "keep-alive",
    "X-Accel-Buffering": "no",
}

# Provider failures before anything streamed. The upstream's key is the server's business, so its
# failure is a bad gateway, not the caller's 401.
STATUS_BY_CATEGORY: dict[ErrorCategory, int] = {
    "auth": 502,
    "rate_limited": 429,
    "overloaded": 503,
    "context_length": 400,
    "content_filter": 400,
    "bad_request": 400,
    "network": 502,
    "upstream": 502,
}
ANTHROPIC_OVERLOADED_STATUS = 529
GATEWAY_STATUS_BY_CODE = {**STATUS_BY_CODE, "unknown_preset": 404, "not_supported": 501, "missing_api_key": 503}


def request_status(error: RequestError) -> int:
    return GATEWAY_STATUS_BY_CODE.get(error.code, 400)


def provider_status(category: str, *, anthropic: bool = False) -> int:
    if anthropic and category == "overloaded":
        return ANTHROPIC_OVERLOADED_STATUS
    return STATUS_BY_CATEGORY.get(category, 502)  # type: ignore[call-overload, no-any-return]


def retry_headers(retry_after_seconds: float | None) -> dict[str, str]:
    if retry_after_seconds is None:
        return {}
    return {"retry-after": str(max(int(retry_after_seconds + 0.999), 0))}


def request_retry_headers(error: RequestError) -> dict[str, str]:
    """``retry-after`` for a refusal that says when to retry (a rate limit, a draining server)."""
    retry_after = error.details.get("retryAfterSeconds")
    return retry_headers(float(retry_after)) if isinstance(retry_after, int | float) else {}


def error_response(body: dict[str, Any], status: int, headers: dict[str, str] | None = None) -> web.Response:
    return json_response(body, status=status, headers=headers)


def turn_request(parsed: GatewayRequest, request: web.Request, front_door: str) -> TurnRequest:
    block = request.headers.get(BLOCK_HEADER)
    if block is not None and not BLOCK_ID_PATTERN.match(block):
        raise RequestError(
            f"{BLOCK_HEADER}: use 1-64 characters from A-Z, a-z, 0-9, '_' and '-'.", code="invalid_block_id"
        )
    return TurnRequest(
        # Without the header: a block nobody has (no stored settings, nothing saved).
        block_id=block or "v1-" + secrets.token_urlsafe(9),
        keep_in_block=block is not None,
        model_messages=parsed.messages,
        url_preset=parsed.model,
        options=parsed.options,
        client_tools=parsed.tools or (),
        server_tools=False,
        stop_sequences=parsed.stop_sequences,
        tool_choice=parsed.tool_choice,
        parallel_tool_calls=parsed.parallel_tool_calls,
        client_id=client_identity(request),
        user=current_user(request),
        front_door=front_door,
        resettable=False,  # neither API can take back streamed deltas
    )


async def first_event(events: AsyncGenerator[ChatEvent, None]) -> tuple[ChatEvent | None, AsyncIterator[ChatEvent]]:
    """The answer's first event and the rest: a failure before anything streamed is a
    ``ChatError`` first, which the front door answers with an HTTP error status."""
    first = await anext(events, None)

    async def rest() -> AsyncIterator[ChatEvent]:
        if first is not None:
            yield first
        async for event in events:
            yield event

    return first, rest()


def failed_first(first: ChatEvent | None) -> ChatError | None:
    return first if isinstance(first, ChatError) else None


@dataclass(frozen=True, slots=True)
class Wire:
    """How one compatible API frames an answer (the encoder's state lives in the closures):
    SSE bytes to start, per event, for an error once streaming and to end; the whole body when
    not streaming; the error it has met; and its error response before anything streamed."""

    start: Callable[[], list[bytes]]
    encode: Callable[[ChatEvent], list[bytes]]
    error: Callable[[], ChatError | None]
    in_stream_error: Callable[[ChatError], list[bytes]]
    end: tuple[bytes, ...]
    whole: Callable[[], dict[str, Any]]
    failure: Callable[[ChatError], web.Response]


async def answer(
    request: web.Request, events: AsyncGenerator[ChatEvent, None], stream: bool, wire: Wire
) -> web.StreamResponse:
    """A stateless answer in a compatible API: a failure before anything streamed is an HTTP error
    in the API's shape; then one JSON body, or SSE until the end (an error in the stream's shape)."""
    async with aclosing(events) as answer_events:
        first, rest = await first_event(answer_events)
        failed = failed_first(first)
        if failed is not None:
            return wire.failure(failed)
        if not stream:
            async for event in rest:
                wire.encode(event)
            error = wire.error()
            return wire.failure(error) if error is not None else json_response(wire.whole())
        response = web.StreamResponse(status=200, headers=STREAM_HEADERS)
        await response.prepare(request)
        try:
            for data in wire.start():
                await response.write(data)
            async for event in rest:
                for data in wire.encode(event):
                    await response.write(data)
            error = wire.error()
            for data in (*(wire.in_stream_error(error) if error is not None else ()), *wire.end):
                await response.write(data)
        except (ConnectionResetError, ClientConnectionResetError):
            pass  # the caller went away; leaving the loop closes the answer (and the provider call)
        return response
