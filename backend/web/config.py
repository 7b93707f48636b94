"""Presets list, resolution preview, block metadata and global settings endpoints."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from backend.errors import RequestError
from backend.web.app_keys import CHAT, STORE
from backend.web.chat import request_options
from backend.web.common import block_id_from, json_response, read_json

_MAX_OBJECT_KEYS = 200


async def list_presets(request: web.Request) -> web.Response:
    return json_response({"presets": request.app[CHAT].presets_overview()})


async def resolve_preview(request: web.Request) -> web.Response:
    """``GET /api/ai/resolve/<blockId>?preset=``: the effective configuration and its provenance."""
    block_id = block_id_from(request)
    options = request_options(request.headers, None)
    return json_response(await request.app[CHAT].preview(block_id, request.query.get("preset"), options))


async def _json_object(request: web.Request) -> dict[str, Any]:
    payload = await read_json(request)
    if not isinstance(payload, dict):
        raise RequestError("The body must be a JSON object.", code="invalid_body")
    if len(payload) > _MAX_OBJECT_KEYS:
        raise RequestError(f"At most {_MAX_OBJECT_KEYS} keys.", code="invalid_body")
    return payload


async def block_meta(request: web.Request) -> web.Response:
    block_id = block_id_from(request)
    store = request.app[STORE]
    if request.method == "GET":
        return json_response(await store.load_block_meta(block_id))
    payload = await _json_object(request)
    request.app[CHAT].check_ai_settings(payload)
    merged = await store.write_block_meta(block_id, payload, merge=request.method == "PATCH")
    return json_response(merged)


async def global_settings(request: web.Request) -> web.Response:
    store = request.app[STORE]
    if request.method == "GET":
        return json_response(await store.load_settings())
    payload = await _json_object(request)
    request.app[CHAT].check_ai_settings(payload)
    return json_response(await store.write_settings(payload, merge=request.method == "PATCH"))
