"""Typed keys for the process state kept on the aiohttp application (no module-level singletons)."""

from __future__ import annotations

from aiohttp import web

from backend.catalog import PresetCatalog
from backend.chat.service import ChatService
from backend.chat.streams import InMemoryStreams
from backend.observability.metrics import Metrics
from backend.settings import Settings
from backend.storage import Store
from backend.tools.base import ToolRegistry
from backend.tools.mcp_bridge import McpManager

SETTINGS = web.AppKey("settings", Settings)
STORE = web.AppKey("store", Store)
PRESETS = web.AppKey("presets", PresetCatalog)
STREAMS = web.AppKey("streams", InMemoryStreams)
TOOLS = web.AppKey("tools", ToolRegistry)
MCP = web.AppKey("mcp", McpManager)
CHAT = web.AppKey("chat", ChatService)
METRICS = web.AppKey("metrics", Metrics)
