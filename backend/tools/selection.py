"""Which server-side tools a preset gets, failing closed (issue 11; docs/tools.md).

* Built-in tools: those named in ``tools``.
* MCP tools: if ``tools`` names any MCP tool (``<server>__<tool>``), exactly those. A name that
  the preset's MCP servers do not offer is an error that names it (a typo must never widen the
  selection). If ``tools`` names no MCP tool at all, every tool of the preset's servers is offered:
  attaching a server without choosing is an explicit "all of them".
* ``approval_required`` must name tools that are exposed, exactly as exposed: a misspelt name
  there would silently let a tool run without asking.
"""

from __future__ import annotations

from typing import Any

from backend.errors import RequestError
from backend.presets import Preset
from backend.tools.base import Tool, ToolRegistry
from backend.tools.mcp_bridge import McpManager


def _unknown(preset: Preset, field: str, name: str, offered: list[str]) -> RequestError:
    return RequestError(
        f"Preset '{preset.name}': {field} names the tool {name!r}, which is not offered by its MCP servers. "
        f"Offered: {', '.join(sorted(offered)) or '(none)'}.",
        code="unknown_tool",
        details={"field": field, "tool": name, "preset": preset.name},
    )


async def select_server_tools(registry: ToolRegistry, mcp: McpManager, preset: Preset) -> list[Tool[Any]]:
    """The preset's server-side tools (see the module docstring); raises ``RequestError`` naming a wrong name."""
    builtin_names = set(registry.names())
    tools: list[Tool[Any]] = list(registry.select(name for name in preset.file.tools if name in builtin_names).values())
    if not preset.file.mcp_servers:
        return tools
    offered = {tool.name: tool for tool in await mcp.tools_for(preset.file.mcp_servers)}
    named = [name for name in preset.file.tools if name not in builtin_names]
    for name in named:
        if name not in offered:
            raise _unknown(preset, "tools", name, list(offered))
    chosen = [offered[name] for name in dict.fromkeys(named)] if named else list(offered.values())
    tools += chosen
    exposed = {tool.name for tool in chosen}
    for name in preset.file.approval_required:
        if name not in builtin_names and name not in exposed:
            raise _unknown(preset, "approval_required", name, list(exposed))
    return tools
