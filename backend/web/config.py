"""Presets list, resolution preview, block metadata and global settings endpoints."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from backend.app_keys import PRESETS, SETTINGS, STORE
from backend.errors import RequestError
from backend.resolve import resolve
from backend.web.common import block_id_from, json_response, read_json
from backend.web.plan import request_layers

_MAX_OBJECT_KEYS = 200


async def list_presets(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    presets = request.app[PRESETS].presets
    return json_response(
        {
            "presets": [
                {
                    "name": preset.name,
                    "description": preset.file.description,
                    "provider": preset.file.provider,
                    "model": preset.file.model,
                    "apiKeyPresent": preset.file.api_key_env is None
                    or settings.secrets.get(preset.file.api_key_env) is not None,
                    "thinking": preset.file.thinking.enabled,
                    "tools": list(preset.file.tools),
                }
                for preset in sorted(presets.values(), key=lambda p: p.name)
            ]
        }
    )


async def resolve_preview(request: web.Request) -> web.Response:
    """``GET /api/ai/resolve/<blockId>?preset=``: the effective configuration and its provenance."""
    block_id = block_id_from(request)
    layers = await request_layers(request.app[STORE], block_id, None, request.query.get("preset"), request.headers)
    resolved = resolve(layers, request.app[PRESETS].presets)
    return json_response(
        {
            **resolved.describe(),
            "maxTokens": resolved.max_tokens,
            "temperature": resolved.temperature,
            "topP": resolved.top_p,
            "systemPromptSet": resolved.system is not None,
            "thinking": {
                "enabled": resolved.thinking.enabled,
                "budgetTokens": resolved.thinking.budget_tokens,
                "effort": resolved.thinking.effort,
            },
        }
    )


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
    _validate_ai_keys(payload, request)
    merged = await store.write_block_meta(block_id, payload, merge=request.method == "PATCH")
    return json_response(merged)


async def global_settings(request: web.Request) -> web.Response:
    store = request.app[STORE]
    if request.method == "GET":
        return json_response(await store.load_settings())
    payload = await _json_object(request)
    _validate_ai_keys(payload, request)
    return json_response(await store.write_settings(payload, merge=request.method == "PATCH"))


def _validate_ai_keys(payload: dict[str, Any], request: web.Request) -> None:
    """Reject ``ai:*`` values that would break every later chat of the block (bad preset, bad field)."""
    from backend.resolve import metadata_overrides

    kept = {key: value for key, value in payload.items() if key.startswith("ai:") and value is not None}
    overrides = metadata_overrides(kept, "block")
    if overrides.preset is not None and overrides.preset not in request.app[PRESETS].presets:
        raise RequestError(
            f"Unknown preset '{overrides.preset}' in ai:preset. Available presets: "
            f"{', '.join(sorted(request.app[PRESETS].presets))}.",
            code="unknown_preset",
        )
