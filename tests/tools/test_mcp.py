"""The MCP bridge against our own MCP server (tests/tools/mcp_test_server.py), over stdio and
streamable HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from pydantic import ValidationError

from backend.events import ToolApprovalRequested, ToolCall, ToolFailed, ToolInputInvalid, ToolResult
from backend.messages import ToolMessage
from backend.presets import McpServerTable
from backend.storage import ApprovalStore
from backend.tools.base import Tool
from backend.tools.mcp_bridge import McpManager, McpServerUnavailable
from backend.tools.mcp_tool import exposed_name
from backend.tools.runner import ServerToolRunner
from backend.web.common import STATUS_BY_CODE
from tests.tools.mcp_test_server import server as test_server
from tests.tools.scripted import ScriptedModel, context, run_events, text_step, tool_step

SERVER_SCRIPT = Path(__file__).with_name("mcp_test_server.py")


def stdio_table(**fields: Any) -> McpServerTable:
    return McpServerTable(name="test", command=(sys.executable, str(SERVER_SCRIPT)), **fields)


@pytest.fixture
async def manager() -> AsyncIterator[McpManager]:
    opened = McpManager(start_timeout_seconds=30)
    yield opened
    await opened.aclose()


def by_name(tools: list[Tool[Any]]) -> dict[str, Tool[Any]]:
    return {tool.name: tool for tool in tools}


async def run_tool(tools: list[Tool[Any]], name: str, value: Any, **options: Any) -> Any:
    tool = by_name(tools)[name]
    return await tool.run(tool.parse_input(value), context(**options))


async def test_stdio_round_trip_through_the_loop(manager: McpManager, approvals: ApprovalStore) -> None:
    tools = await manager.tools_for([stdio_table(env={"CHATWIRE_TEST_VALUE": "from-env"})])
    names = ["test__add", "test__crash", "test__echo_env", "test__fail", "test__hang", "test__pid"]
    assert sorted(by_name(tools)) == names
    add = by_name(tools)["test__add"]
    assert add.definition().description == "Add two integers."
    assert add.input_schema()["required"] == ["a", "b"]

    model = ScriptedModel(
        [
            tool_step(
                ("call_1", "test__add", '{"a": 2, "b": 40}'),
                ("call_2", "test__fail", "{}"),
                ("call_3", "test__echo_env", '{"name": "CHATWIRE_TEST_VALUE"}'),
                ("call_4", "test__add", '{"a": "two"}'),
                ("call_5", "test__add", "[1, 2]"),
            ),
            text_step("42."),
        ]
    )
    events = await run_events(model, ServerToolRunner(tools, context(), approvals))

    outcomes = {event.tool_call_id: event for event in events if isinstance(event, ToolResult | ToolFailed)}
    assert outcomes["call_1"] == ToolResult("call_1", {"result": 42})
    assert outcomes["call_2"] == ToolFailed("call_2", "Error executing tool fail")
    assert outcomes["call_3"] == ToolResult("call_3", {"result": "from-env"})
    failed_validation = outcomes["call_4"]
    assert isinstance(failed_validation, ToolFailed) and "validation error" in failed_validation.error_text
    (invalid,) = [event for event in events if isinstance(event, ToolInputInvalid)]
    assert invalid.error_text == "Invalid input for tool test__add: the input must be a JSON object."
    tool_message = model.calls[1].messages[-1]
    assert isinstance(tool_message, ToolMessage)
    assert [result.kind for result in tool_message.results] == ["output", "error", "output", "error", "error"]


async def test_timeout_leaves_the_server_usable(manager: McpManager, approvals: ApprovalStore) -> None:
    tools = await manager.tools_for([stdio_table()])
    runner = ServerToolRunner(tools, context(timeout_seconds=0.2), approvals)
    sink: list[ToolMessage | None] = []
    calls = [ToolCall("call_1", "test__hang", "{}"), ToolCall("call_2", "test__add", '{"a": 1, "b": 1}')]

    events = [event async for event in runner.run(calls, sink)]

    assert ToolFailed("call_1", "The tool test__hang timed out after 0.2 seconds.") in events
    assert ToolResult("call_2", {"result": 2}) in events
    assert await run_tool(tools, "test__add", {"a": 3, "b": 4}) == {"result": 7}


async def test_servers_are_shared_and_terminated_on_close() -> None:
    manager = McpManager()
    first, second = await asyncio.gather(manager.tools_for([stdio_table()]), manager.tools_for([stdio_table()]))
    pid = (await run_tool(first, "test__pid", {}))["result"]
    assert (await run_tool(second, "test__pid", {}))["result"] == pid
    os.kill(pid, 0)  # alive

    await manager.aclose()

    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    with pytest.raises(McpServerUnavailable, match="shutting down"):
        await manager.tools_for([stdio_table()])
    await manager.aclose()  # idempotent


async def test_a_crashed_server_is_started_again(manager: McpManager) -> None:
    tools = await manager.tools_for([stdio_table()])
    pid = (await run_tool(tools, "test__pid", {}))["result"]

    with pytest.raises(Exception, match="MCP server test: Connection closed"):
        await run_tool(tools, "test__crash", {})
    with pytest.raises(Exception, match="not running"):
        await run_tool(tools, "test__add", {"a": 1, "b": 2})

    restarted = await manager.tools_for([stdio_table()])
    assert (await run_tool(restarted, "test__pid", {}))["result"] != pid
    assert await run_tool(restarted, "test__add", {"a": 1, "b": 2}) == {"result": 3}


async def test_server_that_cannot_start(manager: McpManager) -> None:
    missing = McpServerTable(name="missing", command=("/nonexistent/mcp-server-binary",))
    with pytest.raises(McpServerUnavailable) as caught:
        await manager.tools_for([missing])
    assert STATUS_BY_CODE[caught.value.code] == 503  # the web front door answers 503
    assert caught.value.public_message.startswith("The MCP server 'missing' could not be started: ")


async def test_server_that_never_answers_times_out() -> None:
    silent = McpServerTable(name="silent", command=(sys.executable, "-c", "import sys; sys.stdin.read()"))
    manager = McpManager(start_timeout_seconds=0.5)
    try:
        with pytest.raises(McpServerUnavailable, match=r"did not answer within 0\.5 seconds"):
            await manager.tools_for([silent])
    finally:
        await manager.aclose()


async def test_server_approval_flag_requests_approval(manager: McpManager, approvals: ApprovalStore) -> None:
    tools = await manager.tools_for([stdio_table(approval_required=True)])
    model = ScriptedModel([tool_step(("call_1", "test__add", '{"a": 1, "b": 2}'))])

    events = await run_events(model, ServerToolRunner(tools, context(), approvals))

    assert any(isinstance(event, ToolApprovalRequested) for event in events)
    assert not any(isinstance(event, ToolResult) for event in events)


def test_server_tables_need_one_transport() -> None:
    with pytest.raises(ValidationError, match="exactly one of 'command' and 'url'"):
        McpServerTable(name="none")
    with pytest.raises(ValidationError, match="exactly one"):
        McpServerTable(name="both", command=("x",), url="http://127.0.0.1:1/mcp")
    stdio_table()


def test_exposed_names_are_provider_safe() -> None:
    assert exposed_name("files", "read.file/v2") == "files__read_file_v2"
    assert len(exposed_name("s" * 32, "t" * 80)) == 64


@pytest.fixture
async def http_server_url() -> AsyncIterator[str]:
    """Our test server over streamable HTTP on 127.0.0.1. The socket listens before uvicorn
    starts, so the client's first connection simply waits in the backlog (no polling)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    port = listener.getsockname()[1]
    config = uvicorn.Config(test_server.streamable_http_app(), log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[listener]))
    yield f"http://127.0.0.1:{port}/mcp"
    server.should_exit = True
    await task
    listener.close()


async def test_streamable_http_round_trip(manager: McpManager, http_server_url: str) -> None:
    tools = await manager.tools_for([McpServerTable(name="remote", url=http_server_url)])

    assert await run_tool(tools, "remote__add", {"a": 20, "b": 22}) == {"result": 42}
    with pytest.raises(Exception, match="Error executing tool fail"):
        await run_tool(tools, "remote__fail", {})
