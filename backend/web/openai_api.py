"""``GET /v1/models`` and ``POST /v1/chat/completions``: the OpenAI-compatible front door.

HTTP only: the body becomes a ``TurnRequest`` (``backend/gateway/openai_request.py``), the core
answers it statelessly (``ChatService.prepare`` + ``run``), and the events are encoded as
``chat.completion`` chunks (``backend/gateway/openai_encode.py``). docs/gateway.md.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

import orjson
from aiohttp import web

from backend.errors import ProviderError, RequestError
from backend.events import ChatError
from backend.gateway.errors import openai_provider_error, openai_request_error
from backend.gateway.openai_encode import ChatCompletionEncoder
from backend.gateway.openai_request import parse_chat_completion
from backend.web.app_keys import CHAT
from backend.web.common import current_user, json_response, read_json
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

DONE_LINE = b"data: [DONE]\n\n"


def request_failure(error: RequestError) -> web.Response:
    body = openai_request_error(error.public_message, error.code, error.details.get("field"))
    return error_response(body, request_status(error), request_retry_headers(error))


def provider_failure(error: ChatError | ProviderError) -> web.Response:
    message = error.error_text if isinstance(error, ChatError) else error.public_message
    return error_response(
        openai_provider_error(message, error.category),
        provider_status(error.category),
        retry_headers(error.retry_after_seconds),
    )


async def list_models(request: web.Request) -> web.Response:
    """The ready presets (their provider's key is set), as OpenAI's model list; with an
    ``anthropic-version`` header (the Anthropic SDK sends one), as Anthropic's."""
    presets = [
        preset for preset in request.app[CHAT].presets_overview(current_user(request)) if preset["apiKeyPresent"]
    ]
    if "anthropic-version" in request.headers:
        data = [
            {
                "type": "model",
                "id": preset["name"],
                "display_name": preset["description"] or preset["name"],
                "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(preset["modifiedAt"])),
            }
            for preset in presets
        ]
        first, last = (data[0]["id"], data[-1]["id"]) if data else (None, None)
        return json_response({"data": data, "has_more": False, "first_id": first, "last_id": last})
    data = [
        {"id": preset["name"], "object": "model", "created": preset["modifiedAt"], "owned_by": preset["provider"]}
        for preset in presets
    ]
    return json_response({"object": "list", "data": data})


async def chat_completions(request: web.Request) -> web.StreamResponse:
    chat = request.app[CHAT]
    try:
        parsed = parse_chat_completion(await read_json(request))
        turn = await chat.prepare(turn_request(parsed, request, "openai"))
    except RequestError as error:
        return request_failure(error)
    encoder = ChatCompletionEncoder(
        "chatcmpl-" + secrets.token_urlsafe(18), parsed.model, int(time.time()), include_usage=parsed.include_usage
    )
    wire = Wire(
        start=lambda: [_data_line(encoder.start())],
        encode=lambda event: [_data_line(chunk) for chunk in encoder.encode(event)],
        error=lambda: encoder.error,
        # OpenAI's in-stream error: a data line with an `error` object (the SDK raises it).
        in_stream_error=lambda error: [_data_line(openai_provider_error(error.error_text, error.category))],
        end=(DONE_LINE,),
        whole=encoder.completion,
        failure=provider_failure,
    )
    return await answer(request, chat.run(turn), parsed.stream, wire)


def _data_line(data: Any) -> bytes:
    return b"data: " + orjson.dumps(data) + b"\n\n"
