"""``POST /v1/messages`` and ``/v1/messages/count_tokens``: the Anthropic-compatible front door.

HTTP only: the body becomes a ``TurnRequest`` (``backend/gateway/anthropic_request.py``), the
core answers it statelessly, and the events are encoded as Anthropic message events
(``backend/gateway/anthropic_encode.py``). An error after the stream started is an ``error``
event, as Anthropic sends one. docs/gateway.md.
"""

from __future__ import annotations

import secrets

from aiohttp import web

from backend.errors import ProviderError, RequestError
from backend.events import ChatError
from backend.gateway.anthropic_encode import AnthropicMessageEncoder, sse_event
from backend.gateway.anthropic_request import parse_messages
from backend.gateway.errors import anthropic_provider_error, anthropic_request_error
from backend.web.app_keys import CHAT
from backend.web.common import json_response, read_json
from backend.web.gateway import (
    Wire,
    answer,
    error_response,
    provider_status,
    request_retry_headers,
    request_status,
    retry_headers,
    turn_request,
)


def request_failure(error: RequestError) -> web.Response:
    body = anthropic_request_error(error.public_message, error.code)
    return error_response(body, request_status(error), request_retry_headers(error))


def provider_failure(error: ChatError | ProviderError) -> web.Response:
    message = error.error_text if isinstance(error, ChatError) else error.public_message
    return error_response(
        anthropic_provider_error(message, error.category),
        provider_status(error.category, anthropic=True),
        retry_headers(error.retry_after_seconds),
    )


async def messages(request: web.Request) -> web.StreamResponse:
    chat = request.app[CHAT]
    try:
        parsed = parse_messages(await read_json(request))
        turn = await chat.prepare(turn_request(parsed, request, "anthropic"))
    except RequestError as error:
        return request_failure(error)
    encoder = AnthropicMessageEncoder("msg_" + secrets.token_urlsafe(18), parsed.model)
    wire = Wire(
        start=lambda: [sse_event(name, data) for name, data in encoder.start()],
        encode=lambda event: [sse_event(name, data) for name, data in encoder.encode(event)],
        error=lambda: encoder.error,
        in_stream_error=lambda error: [sse_event("error", anthropic_provider_error(error.error_text, error.category))],
        end=(),
        whole=encoder.message,
        failure=provider_failure,
    )
    return await answer(request, chat.run(turn), parsed.stream, wire)


async def count_tokens(request: web.Request) -> web.Response:
    """``{"input_tokens": n}`` where the preset's provider can count (Anthropic); else 501."""
    chat = request.app[CHAT]
    try:
        parsed = parse_messages(await read_json(request), count_only=True)
        turn = await chat.prepare(turn_request(parsed, request, "anthropic"), charge=False)
        return json_response({"input_tokens": await chat.count_tokens(turn)})
    except RequestError as error:
        return request_failure(error)
    except ProviderError as error:
        return provider_failure(error)
