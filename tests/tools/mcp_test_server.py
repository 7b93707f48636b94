"""A tiny MCP server (stdio) of our own, for the MCP bridge tests.

Run as ``python tests/tools/mcp_test_server.py``. ``MCPServer`` is mcp 2.x's name for FastMCP.
"""

from __future__ import annotations

import os

import anyio
from mcp.server.mcpserver import MCPServer

server = MCPServer("chatwire-test")


@server.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@server.tool()
def echo_env(name: str) -> str:
    """Return an environment variable of the server process (to check ``env`` reaches it)."""
    return os.environ.get(name, "")


@server.tool()
def fail() -> str:
    """Always raises, so the bridge's error path can be checked."""
    raise RuntimeError("the test tool failed on purpose")


@server.tool()
async def hang() -> str:
    """Never returns (for timeouts)."""
    await anyio.Event().wait()
    return "unreachable"


@server.tool()
def crash() -> str:
    """Ends the server process abruptly (for reconnection)."""
    os._exit(3)


@server.tool()
def pid() -> int:
    """The server's process id (to check the child is terminated on close)."""
    return os.getpid()


if __name__ == "__main__":
    server.run("stdio")
