"""MCP fails closed, old MCP servers stop after a preset edit, and the reload task survives OSError
(issue 11 items 5 and 9). The real app, our own MCP server over stdio, the fake upstream."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from backend.app import create_app
from backend.catalog import PresetCatalog
from backend.chat.preset_reload import reload_once
from backend.tools.mcp_bridge import McpManager
from backend.web.app_keys import MCP, PRESETS
from tests.conftest import make_settings, write_fixture_presets, write_preset
from tests.tools.test_mcp import SERVER_SCRIPT, run_tool
from tests.upstream import FakeUpstream
from tests.web.test_chat_endpoint import user_message


def mcp_preset(directory: Path, upstream_url: str, name: str, extra: str, env_value: str = "one") -> None:
    write_preset(
        directory,
        name,
        f"""
        provider = "anthropic"
        model = "claude-sonnet-5-5"
        base_url = "{upstream_url}/anthropic/text_basic"
        api_key_env = "TEST_ANTHROPIC_KEY"
        {extra}

        [[mcp_servers]]
        name = "test"
        command = ["{sys.executable}", "{SERVER_SCRIPT}"]
        env = {{ "CHATWIRE_TEST_VALUE" = "{env_value}" }}
        """,
    )


@pytest.fixture
async def client(tmp_path: Path, upstream: FakeUpstream, aiohttp_client: Callable[..., Any]) -> TestClient[Any, Any]:
    presets_dir = tmp_path / "presets"
    write_fixture_presets(presets_dir, upstream.url)
    mcp_preset(presets_dir, upstream.url, "typo", 'tools = ["test__add", "test__ad"]')
    mcp_preset(presets_dir, upstream.url, "chosen", 'tools = ["test__add"]')
    mcp_preset(presets_dir, upstream.url, "approval-typo", 'tools = ["test__add"]\napproval_required = ["test__ad"]')
    result: TestClient[Any, Any] = await aiohttp_client(create_app(make_settings(tmp_path, presets_dir)))
    return result


async def test_a_misspelt_mcp_tool_is_an_error_naming_it(client: TestClient[Any, Any], upstream: FakeUpstream) -> None:
    response = await client.post("/api/ai/chat/b1?preset=typo", json={"messages": [user_message("hi")]})
    assert response.status == 400
    error = (await response.json())["error"]
    assert error["code"] == "unknown_tool" and error["tool"] == "test__ad" and error["field"] == "tools"
    assert "'test__ad'" in error["message"] and "test__add" in error["message"]  # the offered names
    assert upstream.requests == []  # the model never saw a tool list


async def test_only_the_named_mcp_tools_are_offered(client: TestClient[Any, Any], upstream: FakeUpstream) -> None:
    response = await client.post("/api/ai/chat/b1?preset=chosen", json={"messages": [user_message("hi")]})
    assert response.status == 200
    await response.read()
    assert [tool["name"] for tool in upstream.requests[-1].json()["tools"]] == ["test__add"]


async def test_approval_names_must_match_exposed_tools(client: TestClient[Any, Any], upstream: FakeUpstream) -> None:
    response = await client.post("/api/ai/chat/b1?preset=approval-typo", json={"messages": [user_message("hi")]})
    assert response.status == 400
    error = (await response.json())["error"]
    assert error["field"] == "approval_required" and error["tool"] == "test__ad"
    assert upstream.requests == []


async def test_replacing_a_preset_stops_its_old_mcp_server(
    client: TestClient[Any, Any], upstream: FakeUpstream
) -> None:
    app = client.app
    assert app is not None
    catalog, mcp = app[PRESETS], app[MCP]
    old_tools = await mcp.tools_for(catalog.presets["chosen"].file.mcp_servers)
    old_pid = (await run_tool(old_tools, "test__pid", {}))["result"]
    for name in ("chosen", "typo", "approval-typo"):  # every preset now runs the server with another env
        extra = {"chosen": 'tools = ["test__add"]', "typo": "", "approval-typo": ""}[name]
        mcp_preset(catalog.directory, upstream.url, name, extra, env_value="two")
    await reload_once(catalog, mcp, force=True)
    with pytest.raises(ProcessLookupError):
        os.kill(old_pid, 0)
    new_tools = await mcp.tools_for(catalog.presets["chosen"].file.mcp_servers)
    assert (await run_tool(new_tools, "test__pid", {}))["result"] != old_pid


async def test_reload_survives_os_error_and_logs_it(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    presets_dir = tmp_path / "presets"
    write_fixture_presets(presets_dir, "http://127.0.0.1:9")
    catalog = PresetCatalog(presets_dir)
    manager = McpManager()
    dangling = presets_dir / "vanished.toml"
    dangling.symlink_to(tmp_path / "nowhere.toml")  # stat() raises FileNotFoundError
    with caplog.at_level(logging.ERROR, logger="backend.chat.preset_reload"):
        await reload_once(catalog, manager)
    assert any("preset reload failed" in record.getMessage() for record in caplog.records)
    dangling.unlink()
    write_preset(presets_dir, "added", 'provider = "anthropic"\nmodel = "m"\n')
    await reload_once(catalog, manager)
    assert "added" in catalog.presets
    await manager.aclose()
