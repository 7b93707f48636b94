"""Serves the built frontend (``frontend/dist``) at ``/``, with an SPA fallback outside ``/api``."""

from __future__ import annotations

from aiohttp import web

from backend.web.app_keys import SETTINGS

_MISSING = """<!doctype html><meta charset="utf-8"><title>Chatwire</title>
<body style="font-family:monospace;background:#111;color:#ddd;padding:2em">
<h1>Chatwire</h1><p>The API is running, but the frontend is not built.</p>
<p>Run <code>make run</code> (or <code>cd frontend &amp;&amp; npm ci &amp;&amp; npm run build</code>).</p></body>"""


async def index(request: web.Request) -> web.StreamResponse:
    dist = request.app[SETTINGS].frontend_dir
    if request.path.startswith("/api/"):
        raise web.HTTPNotFound()
    candidate = (dist / request.path.lstrip("/")).resolve()
    if request.path not in ("", "/") and dist.resolve() in candidate.parents and candidate.is_file():
        return web.FileResponse(candidate)
    index_file = dist / "index.html"
    if not index_file.is_file():
        return web.Response(text=_MISSING, content_type="text/html", status=503)
    return web.FileResponse(index_file, headers={"Cache-Control": "no-cache"})


def add_frontend_routes(app: web.Application) -> None:
    app.router.add_get("/{tail:.*}", index)
