"""Typed keys for the process state kept on the aiohttp application (no module-level singletons)."""

from __future__ import annotations

from aiohttp import web

from backend.catalog import PresetCatalog
from backend.chat.service import ChatService
from backend.chat.streams import LiveStreams
from backend.observability.metrics import Metrics
from backend.settings import Settings
from backend.storage import Store
from backend.tools.base import ToolRegistry
from backend.tools.mcp_bridge import McpManager
from backend.users import User, UserDirectory

SETTINGS = web.AppKey("settings", Settings)
# Interfaces (Protocols), so the keys are typed by annotation: SQLite|PostgreSQL, memory|Redis.
STORE: web.AppKey[Store] = web.AppKey("store")
PRESETS = web.AppKey("presets", PresetCatalog)
STREAMS: web.AppKey[LiveStreams] = web.AppKey("streams")
TOOLS = web.AppKey("tools", ToolRegistry)
MCP = web.AppKey("mcp", McpManager)
CHAT = web.AppKey("chat", ChatService)
METRICS = web.AppKey("metrics", Metrics)
# Issue 19: the users file's users (absent without --users-file), and who a request is (set by the
# security middleware on every request it lets through to /api/, /v1/ and /metrics).
USERS = web.AppKey("users", UserDirectory)
USER = web.RequestKey("user", User)
