"""``/api/ai/conversations``: saved UIMessage histories per block, with versions (ETags).

Each handler reads and writes through the user's view of the store (``ChatService.store_for``):
another user's block is, to these handlers, a block that does not exist."""

from __future__ import annotations

import orjson
from aiohttp import web

from backend.aisdk.request import parse_ui_messages
from backend.errors import RequestError
from backend.request_limits import check_messages
from backend.storage import Store, VersionConflict
from backend.web.app_keys import CHAT, SETTINGS
from backend.web.common import block_id_from, current_user, json_response, read_json


def _store(request: web.Request) -> Store:
    return request.app[CHAT].store_for(current_user(request))


def _etag(version: int) -> str:
    return f'"{version}"'


def _expected_version(request: web.Request) -> int | None:
    header = request.headers.get("If-Match")
    if header is None or header.strip() == "*":
        return None
    try:
        return int(header.strip().removeprefix("W/").strip('"'))
    except ValueError:
        raise RequestError('If-Match must be a version ETag such as "3".', code="invalid_if_match") from None


async def get_conversation(request: web.Request) -> web.Response:
    block_id = block_id_from(request)
    stored = await _store(request).load_conversation(block_id)
    if stored is None:
        return json_response({"blockId": block_id, "messages": [], "version": 0}, headers={"ETag": _etag(0)})
    # The stored JSON is spliced in as is: the messages come back exactly as saved.
    body = (
        b'{"blockId":'
        + orjson.dumps(block_id)
        + b',"version":'
        + str(stored.version).encode()
        + b',"updatedAt":'
        + orjson.dumps(stored.updated_at)
        + b',"messages":'
        + stored.messages_json
        + b"}"
    )
    return web.Response(body=body, content_type="application/json", headers={"ETag": _etag(stored.version)})


async def post_conversation(request: web.Request) -> web.Response:
    block_id = block_id_from(request)
    payload = await read_json(request)
    if not isinstance(payload, dict) or "messages" not in payload:
        raise RequestError('The body must be {"messages": [UIMessage, ...]}.', code="invalid_body")
    await check_messages(payload["messages"], request.app[SETTINGS].limits)
    parse_ui_messages(payload["messages"])
    try:
        version = await _store(request).save_conversation(block_id, payload["messages"], _expected_version(request))
    except VersionConflict as conflict:
        raise RequestError(
            f"Version conflict: the conversation is at version {conflict.current_version}; reload and retry.",
            code="version_conflict",
            details={"currentVersion": conflict.current_version},
        ) from None
    return json_response({"blockId": block_id, "version": version}, headers={"ETag": _etag(version)})


async def delete_conversation(request: web.Request) -> web.Response:
    block_id = block_id_from(request)
    deleted = await _store(request).delete_conversation(block_id)
    return json_response({"blockId": block_id, "deleted": deleted})


def _int_query(request: web.Request, name: str, default: int, maximum: int) -> int:
    try:
        value = int(request.query.get(name, default))
    except ValueError:
        raise RequestError(f"{name} must be an integer.", code="invalid_query") from None
    if not 0 <= value <= maximum:
        raise RequestError(f"{name} must be between 0 and {maximum}.", code="invalid_query")
    return value


async def list_conversations(request: web.Request) -> web.Response:
    limit = _int_query(request, "limit", 50, 500)
    offset = _int_query(request, "offset", 0, 10_000_000)
    items, total = await _store(request).list_conversations(limit, offset)
    return json_response(
        {
            "conversations": [
                {
                    "blockId": item.block_id,
                    "title": item.title,
                    "preset": item.preset,
                    "model": item.model,
                    "messageCount": item.message_count,
                    "usage": {
                        "inputTokens": item.input_tokens,
                        "outputTokens": item.output_tokens,
                        "totalTokens": item.input_tokens + item.output_tokens,
                    },
                    "version": item.version,
                    "updatedAt": item.updated_at,
                }
                for item in items
            ],
            "total": total,
            "limit": limit,
            "offset": offset,
        }
    )
