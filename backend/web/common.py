"""The web layer's one error path and small shared helpers.

Every ``ChatwireError`` becomes ``{"error": {"code", "message", ...details}}``, with the status
its ``code`` maps to here (the only place HTTP statuses are chosen for core errors);
aiohttp's own HTTP errors (404, 405, 413) get the same JSON shape; anything unexpected is logged
with its traceback and answered with a generic 500 that reveals nothing.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web

from backend.errors import ChatwireError, RequestError
from backend.pacing import LARGE_BYTES, yield_to_loop
from backend.request_limits import parse_json
from backend.users import User
from backend.web.app_keys import SETTINGS, USER

logger = logging.getLogger(__name__)

BLOCK_ID_PATTERN = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Error codes that are not a plain 400.
STATUS_BY_CODE = {
    "body_too_large": 413,
    "limit_exceeded": 413,
    "stream_active": 409,
    "version_conflict": 409,
    "mcp_unavailable": 503,
    "rate_limited": 429,
    "too_many_streams": 503,
    "draining": 503,
    # Issue 19 (docs/security.md): a preset outside the user's allowlist; an admin-only view.
    "preset_not_allowed": 403,
    "admin_only": 403,
    "unauthorized": 401,
}


def json_response(data: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json", headers=headers)


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, **(details or {})}}


def current_user(request: web.Request) -> User:
    """Who is asking: decided once by the security middleware (backend/web/security.py)."""
    if USER not in request:  # a route the middleware does not authenticate: nobody's data is reachable
        raise RequestError("Authentication required.", code="unauthorized")
    return request[USER]


def block_id_from(request: web.Request) -> str:
    block_id = request.match_info.get("block_id", "")
    if not BLOCK_ID_PATTERN.match(block_id):
        raise RequestError(
            "Invalid blockId: use 1-64 characters from A-Z, a-z, 0-9, '_' and '-'.",
            code="invalid_block_id",
        )
    return block_id


async def read_json(request: web.Request) -> Any:
    """The request body as JSON, or a 400 / 413 RequestError."""
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        limit = request.app[SETTINGS].max_body_bytes // (1024 * 1024)
        raise RequestError(f"Request body too large (limit {limit} MB).", code="body_too_large") from None
    if not raw:
        raise RequestError("The request body is empty; send a JSON object.", code="invalid_json")
    # Parsing is one uninterruptible call: its work is bounded before it starts (backend/request_limits.py).
    if len(raw) > LARGE_BYTES:
        await yield_to_loop()  # reading joined the body in this step; the count starts in the next
    return await parse_json(raw, request.app[SETTINGS].limits)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except RequestError as error:
        status = STATUS_BY_CODE.get(error.code, 400)
        retry_after = error.details.get("retryAfterSeconds")
        headers = {"Retry-After": str(retry_after)} if isinstance(retry_after, int | float) else None
        return json_response(
            error_body(error.code, error.public_message, error.details), status=status, headers=headers
        )
    except ChatwireError as error:
        logger.warning("request failed: %s", error.public_message)
        code = error.code if error.code in STATUS_BY_CODE else "error"
        return json_response(error_body(code, error.public_message), status=STATUS_BY_CODE.get(code, 400))
    except web.HTTPException as error:
        if error.status < 400:
            raise
        code = {404: "not_found", 405: "method_not_allowed", 413: "body_too_large"}.get(error.status, "http_error")
        return json_response(error_body(code, error.reason), status=error.status)
    except Exception:
        logger.exception("unhandled error in %s %s", request.method, request.path)
        return json_response(error_body("internal_error", "Internal server error."), status=500)
