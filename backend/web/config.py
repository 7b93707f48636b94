"""Presets list, resolution preview, block metadata and the user's settings endpoints; who is
signed in (``/api/me``) and, for an admin, the users and their usage (``/api/admin/users``)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from backend.errors import RequestError
from backend.web.app_keys import CHAT, USERS
from backend.web.chat import request_options
from backend.web.common import block_id_from, current_user, json_response, read_json

_MAX_OBJECT_KEYS = 200


async def list_presets(request: web.Request) -> web.Response:
    return json_response({"presets": request.app[CHAT].presets_overview(current_user(request))})


async def resolve_preview(request: web.Request) -> web.Response:
    """``GET /api/ai/resolve/<blockId>?preset=``: the effective configuration and its provenance."""
    block_id = block_id_from(request)
    options = request_options(request.headers, None)
    user = current_user(request)
    return json_response(await request.app[CHAT].preview(user, block_id, request.query.get("preset"), options))


async def _json_object(request: web.Request) -> dict[str, Any]:
    payload = await read_json(request)
    if not isinstance(payload, dict):
        raise RequestError("The body must be a JSON object.", code="invalid_body")
    if len(payload) > _MAX_OBJECT_KEYS:
        raise RequestError(f"At most {_MAX_OBJECT_KEYS} keys.", code="invalid_body")
    return payload


async def block_meta(request: web.Request) -> web.Response:
    block_id = block_id_from(request)
    store = request.app[CHAT].store_for(current_user(request))
    if request.method == "GET":
        return json_response(await store.load_block_meta(block_id))
    payload = await _json_object(request)
    request.app[CHAT].check_ai_settings(payload)
    merged = await store.write_block_meta(block_id, payload, merge=request.method == "PATCH")
    return json_response(merged)


async def global_settings(request: web.Request) -> web.Response:
    """The user's settings: the ``global`` layer of their resolution (over the ``default`` preset)."""
    store = request.app[CHAT].store_for(current_user(request))
    if request.method == "GET":
        return json_response(await store.load_settings())
    payload = await _json_object(request)
    request.app[CHAT].check_ai_settings(payload)
    return json_response(await store.write_settings(payload, merge=request.method == "PATCH"))


async def me(request: web.Request) -> web.Response:
    """``GET /api/me``: who is signed in (the UI shows the name in its top bar)."""
    return json_response(current_user(request).describe())


async def admin_users(request: web.Request) -> web.Response:
    """``GET /api/admin/users`` (admins only): each user with what they have stored. Counts and
    tokens only; an admin reads no one's conversations through the API."""
    usage = {item.owner: item for item in await request.app[CHAT].usage_by_user(current_user(request))}
    directory = request.app.get(USERS)
    users = list(directory.users.values()) if directory is not None else [current_user(request)]
    names = sorted({user.name for user in users} | set(usage))
    by_name = {user.name: user for user in users}
    rows = []
    for name in names:
        user, stored = by_name.get(name), usage.get(name)
        rows.append(
            {
                **(user.describe() if user is not None else {"name": name, "role": None, "removed": True}),
                "usage": {
                    "conversations": stored.conversations if stored else 0,
                    "inputTokens": stored.input_tokens if stored else 0,
                    "outputTokens": stored.output_tokens if stored else 0,
                },
            }
        )
    return json_response({"users": rows})
