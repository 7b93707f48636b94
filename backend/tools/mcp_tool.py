"""One MCP server tool as a Chatwire :class:`Tool`, and the mapping of its results.

The tool is named ``<server>__<tool>`` (characters providers reject become ``_``; at most 64
characters, OpenAI's limit). Its input schema is the MCP tool's own; we only check that the
input is a JSON object and let the MCP server validate the rest (its error comes back as an
``isError`` result, which the model can read and correct).

A result maps to JSON this way: ``structuredContent`` when the server sent it; otherwise the
text blocks joined with newlines (non-text blocks become a short placeholder, since a tool
result we send to a model is JSON, not media). ``isError`` makes the call fail with that text.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from backend.errors import ToolError, redact
from backend.events import JsonValue
from backend.tools.base import MAX_ERROR_TEXT, Tool, ToolContext, ToolInputError

if TYPE_CHECKING:  # the SDK (~50 MB) is imported only when a preset names an MCP server
    from mcp import types as mcp_types

MAX_TOOL_NAME = 64
_NOT_ALLOWED_IN_NAME = re.compile(r"[^A-Za-z0-9_\-]")

CallTool = Callable[[str, dict[str, Any]], Awaitable["mcp_types.CallToolResult"]]


def exposed_name(server_name: str, tool_name: str) -> str:
    """``<server>__<tool>`` with only the characters every provider accepts in a tool name."""
    return _NOT_ALLOWED_IN_NAME.sub("_", f"{server_name}__{tool_name}")[:MAX_TOOL_NAME]


def content_text(block: mcp_types.ContentBlock) -> str:
    from mcp import types as mcp_types  # loaded already: a result came from the SDK

    match block:
        case mcp_types.TextContent():
            return block.text
        case mcp_types.EmbeddedResource(resource=mcp_types.TextResourceContents() as resource):
            return resource.text
        case mcp_types.EmbeddedResource():
            return f"[binary resource {block.resource.uri} omitted]"
        case mcp_types.ResourceLink():
            return f"[resource link: {block.uri}]"
        case mcp_types.ImageContent() | mcp_types.AudioContent():
            return f"[{block.type} ({block.mime_type}) omitted]"
        case _:
            return f"[{getattr(block, 'type', 'unknown')} content omitted]"


def result_value(result: mcp_types.CallToolResult) -> JsonValue:
    """The JSON a successful call returns to the model and the browser."""
    if result.structured_content is not None:
        structured: JsonValue = result.structured_content
        return structured
    return "\n".join(content_text(block) for block in result.content)


class McpTool(Tool[dict[str, JsonValue]]):
    """A tool of a running MCP server; ``call`` reaches it through the bridge's session."""

    def __init__(
        self,
        server_name: str,
        tool: mcp_types.Tool,
        call: CallTool,
        *,
        needs_approval: bool,
        secrets: tuple[str, ...] = (),
    ) -> None:
        self.name = exposed_name(server_name, tool.name)
        self.description = tool.description or tool.title or f"The {tool.name} tool of the MCP server {server_name}."
        self.server_name = server_name
        self.mcp_name = tool.name
        self.needs_approval = needs_approval
        self._schema: dict[str, JsonValue] = dict(tool.input_schema) or {"type": "object"}
        self._call = call
        self._secrets = secrets

    def input_schema(self) -> dict[str, JsonValue]:
        return self._schema

    def parse_input(self, value: JsonValue) -> dict[str, JsonValue]:
        if not isinstance(value, dict):
            raise ToolInputError(f"Invalid input for tool {self.name}: the input must be a JSON object.")
        return value

    async def run(self, tool_input: dict[str, JsonValue], context: ToolContext) -> JsonValue:
        result = await self._call(self.mcp_name, tool_input)
        if result.is_error:
            text = "\n".join(content_text(block) for block in result.content).strip()
            raise ToolError(
                redact(text or f"The MCP tool {self.mcp_name} reported an error.", self._secrets)[:MAX_ERROR_TEXT]
            )
        return result_value(result)
