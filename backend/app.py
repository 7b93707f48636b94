"""``create_app(settings)``: app keys, startup/cleanup of process state, routes. No logic."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import AsyncIterator

from aiohttp import web

from backend.catalog import PresetCatalog
from backend.chat.admission import Admission
from backend.chat.model_pool import ModelPool
from backend.chat.prepare import TurnServices
from backend.chat.preset_reload import poll_presets, reload_once
from backend.chat.rate_limits import LimitSettings, RateLimits
from backend.chat.service import ChatService
from backend.chat.streams import InMemoryStreams, LiveStreams
from backend.errors import ConfigError
from backend.heap import settle_heap
from backend.observability.logs import AnswerLog
from backend.observability.metrics import Metrics
from backend.settings import Settings
from backend.storage import SqliteStore, Store
from backend.tools.builtins import default_registry
from backend.tools.mcp_bridge import McpManager
from backend.users import UserDirectory, UsersFileError
from backend.web.app_keys import CHAT, MCP, METRICS, PRESETS, SETTINGS, STORE, STREAMS, TOOLS, USERS
from backend.web.common import error_middleware
from backend.web.ops import observability_middleware, on_prepare
from backend.web.routes import add_routes
from backend.web.security import install_security, security_middleware

logger = logging.getLogger(__name__)


async def open_store(settings: Settings) -> Store:
    """PostgreSQL with ``--database-url``, else the SQLite file in the data dir (docs/scaling.md)."""
    if settings.database_url:
        # Imported only when configured: asyncpg costs ~15 MB a SQLite server never needs.
        from backend.storage.postgres import PostgresStore

        return await PostgresStore.open(settings.database_url)
    return await SqliteStore.open(settings.database_path)


async def open_streams(settings: Settings) -> LiveStreams:
    """Redis with ``--redis-url``, else this process's memory (docs/scaling.md)."""
    if settings.redis_url:
        # Imported only when configured: redis-py costs ~20 MB an in-memory server never needs.
        from backend.chat.redis_streams import RedisStreams

        return await RedisStreams.open(
            settings.redis_url,
            lock_seconds=settings.stream_lock_seconds,
            finished_seconds=settings.finished_stream_seconds,
        )
    return InMemoryStreams()


async def _streams_context(app: web.Application) -> AsyncIterator[None]:
    app[STREAMS] = await open_streams(app[SETTINGS])
    yield
    await app[STREAMS].close()  # after the store context's stop_all: the ends reached Redis


async def _store_context(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    app[STORE] = await open_store(settings)
    models = ModelPool()
    services = TurnServices(settings, app[STORE], app[PRESETS], app[TOOLS], app[MCP], models)
    # With Redis for live state, the rate-limit counts go there too unless a storage is named.
    storage = settings.rate_limit_storage
    if storage == "memory://" and settings.redis_url:
        storage = settings.redis_url
    limits = RateLimits(LimitSettings(settings.max_streams, settings.client_requests_per_minute or None, storage))
    admission = Admission(limits, (app[METRICS], AnswerLog()), app[STORE])
    app[CHAT] = chat = ChatService(services, app[STREAMS], admission)
    streams = app[STREAMS]
    app[METRICS].bind_live(
        lambda: len(streams.active()),
        lambda: sum(stream.followers for stream in streams.active()),
        lambda: 1.0 if chat.admission.draining else 0.0,
    )
    app[METRICS].pending_approvals(await app[STORE].count_pending_approvals())
    yield
    await app[STREAMS].stop_all()  # saves partial answers before the database closes
    await models.aclose()
    await app[STORE].close()


async def _mcp_context(app: web.Application) -> AsyncIterator[None]:
    """MCP servers start on first use and run until the app stops (docs/tools.md)."""
    app[MCP] = McpManager()
    yield
    await app[MCP].aclose()


async def _preset_reload_context(app: web.Application) -> AsyncIterator[None]:
    """Reload presets when a file changes (polled) or on SIGHUP; in-flight streams keep theirs."""
    catalog, mcp, users = app[PRESETS], app[MCP], app.get(USERS)
    # Issue 11: the poll survives OSError and stops MCP servers of replaced presets (backend/chat/preset_reload.py).
    # Issue 19: the users file is reloaded by the same poll (rotate or revoke a token without a restart).
    poll = poll_presets(catalog, mcp, app[SETTINGS].preset_poll_seconds, users)
    task = asyncio.create_task(poll, name="preset-reload")
    loop = asyncio.get_running_loop()
    forced: set[asyncio.Task[None]] = set()

    def on_hup() -> None:
        reload = asyncio.create_task(reload_once(catalog, mcp, force=True, users=users), name="preset-reload-hup")
        forced.add(reload)
        reload.add_done_callback(forced.discard)

    try:
        loop.add_signal_handler(signal.SIGHUP, on_hup)
        hup = True
    except (NotImplementedError, RuntimeError, ValueError):
        hup = False  # not in the main thread (tests) or not on this platform
    yield
    if hup:
        loop.remove_signal_handler(signal.SIGHUP)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def _settled_heap_context(app: web.Application) -> AsyncIterator[None]:
    """Last to start: everything startup built is long-lived, so full GC passes skip it (backend/heap.py)."""
    frozen = settle_heap()
    logger.debug("startup heap frozen: %d objects", frozen)
    yield


def create_app(settings: Settings) -> web.Application:
    # The security middleware runs first (docs/security.md): nothing else sees a refused request.
    # Observability is outermost (every request gets an id, an access line and a metric), then the
    # security boundary (docs/security.md: nothing else sees a refused request), then errors.
    app = web.Application(
        client_max_size=settings.max_body_bytes,
        middlewares=[observability_middleware, security_middleware, error_middleware],
    )
    app.on_response_prepare.append(on_prepare)
    app[SETTINGS] = settings
    app[METRICS] = Metrics(per_user=settings.metrics_per_user)
    users = None
    if settings.users_file is not None:
        try:
            users = app[USERS] = UserDirectory(settings.users_file)
        except UsersFileError as error:
            raise ConfigError(str(error)) from None
    install_security(app, settings, users)
    app[TOOLS] = default_registry()
    app[PRESETS] = PresetCatalog(settings.presets_dir, app[TOOLS].names())
    app.cleanup_ctx.append(_mcp_context)
    app.cleanup_ctx.append(_streams_context)
    app.cleanup_ctx.append(_store_context)
    app.cleanup_ctx.append(_preset_reload_context)
    app.cleanup_ctx.append(_settled_heap_context)
    add_routes(app)
    return app
