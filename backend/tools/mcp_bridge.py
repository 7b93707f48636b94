"""MCP servers as server-side tools, through the official ``mcp`` SDK (2.x).

``McpManager`` (one per app, kept in an ``AppKey``, closed in ``cleanup_ctx``) starts a
preset's MCP servers on first use and keeps them running for the app's lifetime: starting a
stdio server costs a process spawn and a handshake, far too much per chat request, and servers
may hold state (open files, logins) that should outlive one answer. A server is known by its
whole table (name, command, url, env), so a preset edited to run a different command starts a
new server; after a preset reload, ``retain`` stops the servers no preset uses any more.
A server whose connection broke (its process died) is started again on the next request.

Each server's ``ClientSession`` and transport live in a task of their own: the SDK's anyio task
groups must be entered and left by the same task, and a server started for one request must
survive that request's cancellation. ``aclose`` asks every such task to leave its contexts; the
SDK's stdio transport then closes the child's stdin, waits, and terminates the process tree.

A stdio child gets only a minimal environment (``HOME``, ``LOGNAME``, ``PATH``, ``SHELL``,
``TERM``, ``USER``; the SDK's default) plus the table's ``env``: Chatwire's own API keys are
never passed on. The child's stderr goes to Chatwire's stderr.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TextIO

from backend.errors import ToolError
from backend.presets import McpServerTable
from backend.tools.base import Tool
from backend.tools.execute import safe_error_text
from backend.tools.mcp_tool import McpTool

if TYPE_CHECKING:  # the SDK (~50 MB) is imported when a preset's MCP server is first started
    from mcp import ClientSession
    from mcp import types as mcp_types

logger = logging.getLogger(__name__)

CONNECTION_CLOSED = -32000  # JSON-RPC code the SDK uses when the transport went away
MAX_TOOL_PAGES = 50


class McpServerUnavailable(ToolError):
    """An MCP server a preset needs could not be started (the answer cannot start; HTTP 503)."""

    code = "mcp_unavailable"


@dataclass(frozen=True, slots=True)
class ServerKey:
    name: str
    command: tuple[str, ...]
    url: str | None
    env: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, table: McpServerTable) -> ServerKey:
        return cls(table.name, table.command, table.url, tuple(sorted(table.env.items())))


class McpConnection:
    """One running MCP server and its session, owned by a dedicated task."""

    def __init__(self, table: McpServerTable, start_timeout_seconds: float, errlog: TextIO) -> None:
        self.table = table
        self.alive = False
        self.tools: tuple[mcp_types.Tool, ...] = ()
        self._start_timeout = start_timeout_seconds
        self._errlog = errlog
        self._session: ClientSession | None = None
        self._stop = asyncio.Event()
        self._ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        # Mark a failed start's exception as seen even if every waiter was cancelled meanwhile.
        self._ready.add_done_callback(lambda future: None if future.cancelled() else future.exception())
        self._task: asyncio.Task[None] | None = None

    @property
    def secrets(self) -> tuple[str, ...]:
        return tuple(value for value in self.table.env.values() if value)

    def begin(self) -> None:
        """Start the server in its own task; ``wait_ready`` tells how that went."""
        self._task = asyncio.create_task(self._own(), name=f"mcp-{self.table.name}")

    async def wait_ready(self) -> None:
        """Wait for the start (``McpServerUnavailable`` if it failed)."""
        try:
            # Shielded: a request cancelled while waiting must not cancel a start others share.
            await asyncio.shield(self._ready)
        except Exception as error:
            raise self.start_failure(error) from None

    @property
    def needs_restart(self) -> bool:
        """The start failed or the connection broke since."""
        return self._ready.done() and not self.alive

    async def _own(self) -> None:
        try:
            async with AsyncExitStack() as stack:
                async with asyncio.timeout(self._start_timeout):
                    session = await self._open(stack)
                    self.tools = await _list_all_tools(session)
                self._session, self.alive = session, True
                self._ready.set_result(None)
                await self._stop.wait()
        except Exception as error:
            if not self._ready.done():
                logger.warning("MCP server %s failed to start: %s", self.table.name, self._safe(error))
                self._ready.set_exception(error)
            else:
                logger.warning("MCP server %s stopped with an error: %s", self.table.name, self._safe(error))
        finally:
            self._session, self.alive = None, False
            if not self._ready.done():
                self._ready.set_exception(RuntimeError("stopped before it was ready"))

    async def _open(self, stack: AsyncExitStack) -> ClientSession:
        from mcp import ClientSession, StdioServerParameters
        from mcp.client.stdio import stdio_client
        from mcp.client.streamable_http import streamable_http_client

        if self.table.command:
            command, *arguments = self.table.command
            parameters = StdioServerParameters(command=command, args=arguments, env=dict(self.table.env) or None)
            read, write = await stack.enter_async_context(stdio_client(parameters, errlog=self._errlog))
        else:
            assert self.table.url is not None  # McpServerTable allows exactly one transport
            read, write = await stack.enter_async_context(streamable_http_client(self.table.url))
        session = await stack.enter_async_context(ClientSession(read, write))
        await session.initialize()
        return session

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> mcp_types.CallToolResult:
        from mcp.shared.exceptions import MCPError

        session = self._session
        if session is None or not self.alive:
            raise ToolError(f"The MCP server {self.table.name} is not running.")
        try:
            return await session.call_tool(name, arguments)
        except MCPError as error:
            if error.code == CONNECTION_CLOSED:
                self.alive = False  # started again on the next request
            raise ToolError(f"MCP server {self.table.name}: {self._safe_text(error.message)}") from None

    def _safe(self, error: BaseException) -> str:
        from mcp.shared.exceptions import MCPError

        error = _cause(error)
        if isinstance(error, MCPError):
            return self._safe_text(error.message)
        return safe_error_text(error, self.secrets)

    def _safe_text(self, text: str) -> str:
        return safe_error_text(ToolError(text), self.secrets)

    def start_failure(self, error: BaseException) -> McpServerUnavailable:
        if isinstance(_cause(error), TimeoutError):
            reason = f"it did not answer within {self._start_timeout:g} seconds"
        else:
            reason = self._safe(error)
        return McpServerUnavailable(f"The MCP server '{self.table.name}' could not be started: {reason}")

    async def aclose(self) -> None:
        self._stop.set()
        if self._task is None:
            return
        if not self._ready.done():
            self._task.cancel()  # still starting: the transport's own cleanup stops the process
        await asyncio.gather(self._task, return_exceptions=True)


def _cause(error: BaseException) -> BaseException:
    """The first real exception inside the exception groups anyio's task groups wrap it in."""
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    return error


async def _list_all_tools(session: ClientSession) -> tuple[mcp_types.Tool, ...]:
    from mcp import types as mcp_types

    tools: list[mcp_types.Tool] = []
    cursor: str | None = None
    for _ in range(MAX_TOOL_PAGES):
        params = mcp_types.PaginatedRequestParams(cursor=cursor) if cursor else None
        page = await session.list_tools(params=params)
        tools.extend(page.tools)
        cursor = page.next_cursor
        if not cursor:
            break
    return tuple(tools)


class McpManager:
    """The app's MCP servers. ``tools_for(preset.file.mcp_servers)`` per request; ``aclose()`` at exit."""

    def __init__(self, *, start_timeout_seconds: float = 30.0, errlog: TextIO | None = None) -> None:
        self._start_timeout = start_timeout_seconds
        self._errlog = errlog or sys.stderr
        self._connections: dict[ServerKey, McpConnection] = {}
        self._closed = False

    async def tools_for(self, tables: Sequence[McpServerTable]) -> list[Tool[Any]]:
        """The tools of these servers (started now if needed), named ``<server>__<tool>``.

        Raises :class:`McpServerUnavailable` if a server cannot be started, and ``ConfigError``
        for a table with neither or both of ``command`` and ``url``.
        """
        connections = await asyncio.gather(*(self._connection(table) for table in tables))
        tools: list[Tool[Any]] = []
        seen: set[str] = set()
        for connection in connections:
            for listed in connection.tools:
                tool = McpTool(
                    connection.table.name,
                    listed,
                    connection.call_tool,
                    needs_approval=connection.table.approval_required,
                    secrets=connection.secrets,
                )
                if tool.name in seen:
                    logger.warning("MCP tool %s of %s hidden: its name clashes", listed.name, connection.table.name)
                    continue
                seen.add(tool.name)
                tools.append(tool)
        return tools

    async def _connection(self, table: McpServerTable) -> McpConnection:
        if self._closed:
            raise McpServerUnavailable("The server is shutting down.")
        key = ServerKey.of(table)
        # No await between the lookup and the insert: concurrent requests share one start.
        connection = self._connections.get(key)
        if connection is None or connection.needs_restart:
            previous = connection
            connection = McpConnection(table, self._start_timeout, self._errlog)
            connection.begin()
            self._connections[key] = connection
            if previous is not None:
                logger.info("MCP server %s: starting it again", table.name)
                await previous.aclose()
        await connection.wait_ready()
        return connection

    async def retain(self, tables: Sequence[McpServerTable]) -> int:
        """Stop the servers no preset uses any more (after a reload); returns how many stopped.

        A preset edited to run another command or env has a new key, so its old server stops here
        (issue 11). A tool call in flight on a stopped server fails with a tool error.
        """
        wanted = {ServerKey.of(table) for table in tables}
        stale = [key for key in self._connections if key not in wanted]
        connections = [self._connections.pop(key) for key in stale]
        for connection in connections:
            logger.info("MCP server %s: stopping it, no preset uses this configuration any more", connection.table.name)
        await asyncio.gather(*(connection.aclose() for connection in connections))
        return len(connections)

    async def aclose(self) -> None:
        """Stop every server (the stdio children are terminated); idempotent."""
        self._closed = True
        connections = list(self._connections.values())
        self._connections.clear()
        await asyncio.gather(*(connection.aclose() for connection in connections))
