"""Operations endpoints and the request middleware: health, readiness, metrics, request ids and
the access log (docs/operations.md)."""

from __future__ import annotations

import hashlib
import secrets
import time

from aiohttp import web

from backend.observability.logs import REQUEST_ID, log_access
from backend.web.app_keys import CHAT, METRICS
from backend.web.common import Handler, json_response

# A client's X-Request-Id is kept if it looks like an id; anything else gets a fresh one.
_MAX_REQUEST_ID = 128


def _request_id(request: web.Request) -> str:
    given = request.headers.get("X-Request-Id", "")
    if 0 < len(given) <= _MAX_REQUEST_ID and given.isascii() and given.isprintable():
        return given
    return secrets.token_hex(8)


def client_identity(request: web.Request) -> str:
    """Who is asking, for per-client limits: the credential's hash when one is sent (so clients
    behind one proxy are told apart), else the remote address. Never the credential itself."""
    credential = request.headers.get("Authorization") or request.headers.get("x-api-key")
    if credential:
        return "key:" + hashlib.sha256(credential.encode()).hexdigest()[:16]
    return f"addr:{request.remote or 'unknown'}"


def route_of(request: web.Request) -> str:
    """The route's template (``/api/ai/chat/{block_id}``): no ids, never the query string."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


@web.middleware
async def observability_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Outermost: every request, refused or not, gets an id, an access line and a metric."""
    request_id = _request_id(request)
    token = REQUEST_ID.set(request_id)
    started = time.perf_counter()
    status, size = 500, 0
    try:
        response = await handler(request)
        status = response.status
        response.headers["X-Request-Id"] = request_id  # prepared streams already sent it (below)
        # A plain response is written after this middleware returns: count its body; a stream has
        # written everything by now.
        size = response.body_length or response.content_length or 0
        return response
    except web.HTTPException as error:
        status = error.status
        raise
    finally:
        seconds = time.perf_counter() - started
        route = route_of(request)
        log_access(request.method, route, status, seconds * 1000, size)
        request.app[METRICS].observe_request(route, request.method, status, seconds)
        REQUEST_ID.reset(token)


async def on_prepare(request: web.Request, response: web.StreamResponse) -> None:
    """Streams send their headers before the handler returns: add the request id then."""
    response.headers.setdefault("X-Request-Id", REQUEST_ID.get())


async def health(request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


async def ready(request: web.Request) -> web.Response:
    """200 when the store takes writes, the presets loaded and the server is not draining; else 503
    naming the failed check."""
    checks = await request.app[CHAT].readiness()
    failed = sorted(name for name, state in checks.items() if state != "ok")
    body: dict[str, object] = {"status": "ok" if not failed else "unavailable", "checks": checks}
    if failed:
        body["failed"] = failed
    return json_response(body, status=200 if not failed else 503)


async def metrics(request: web.Request) -> web.Response:
    return web.Response(
        body=request.app[METRICS].exposition(), headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"}
    )


def add_ops_routes(app: web.Application) -> None:
    app.router.add_get("/health", health)
    app.router.add_get("/health/live", health)  # always open, even with --auth-token (docs/security.md)
    app.router.add_get("/health/ready", ready)
    app.router.add_get("/metrics", metrics)
