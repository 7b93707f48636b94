"""Typed keys for the process state kept on the aiohttp application (no module-level singletons)."""

from __future__ import annotations

from aiohttp import web

from backend.catalog import PresetCatalog
from backend.settings import Settings
from backend.storage import Store
from backend.tools.base import ToolRegistry
from backend.tools.mcp_bridge import McpManager
from backend.web.streams import StreamRegistry

SETTINGS = web.AppKey("settings", Settings)
STORE = web.AppKey("store", Store)
PRESETS = web.AppKey("presets", PresetCatalog)
STREAMS = web.AppKey("streams", StreamRegistry)
TOOLS = web.AppKey("tools", ToolRegistry)
MCP = web.AppKey("mcp", McpManager)
