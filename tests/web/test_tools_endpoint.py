"""Server-side tools through the chat endpoint: multi-step runs, approvals (approve, deny, forged)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from backend.app import create_app
from tests.conftest import make_settings, write_fixture_presets, write_preset
from tests.sse import parse_sse, types_of
from tests.upstream import FakeUpstream
from tests.web.test_chat_endpoint import user_message

CLOCK = "composed_current_time_call"


@pytest.fixture
async def tool_client(tmp_path: Path, upstream: FakeUpstream, aiohttp_client: Any) -> TestClient[Any, Any]:
    presets = tmp_path / "presets"
    write_fixture_presets(presets, upstream.url)
    common = f"""
        provider = "anthropic"
        model = "claude-sonnet-5-5"
        base_url = "{upstream.url}/anthropic/{CLOCK}"
        api_key_env = "TEST_ANTHROPIC_KEY"
        tools = ["current_time"]
        """
    write_preset(presets, "clock", common)
    write_preset(presets, "clock-approval", common + 'approval_required = ["current_time"]\n')
    client: TestClient[Any, Any] = await aiohttp_client(create_app(make_settings(tmp_path, presets)))
    return client


async def test_server_tool_runs_and_the_model_continues(
    tool_client: TestClient[Any, Any], upstream: FakeUpstream
) -> None:
    response = await tool_client.post("/api/ai/chat/b1?preset=clock", json={"messages": [user_message("time?")]})
    chunks, _, _ = parse_sse(await response.text())
    kinds = types_of(chunks)
    assert kinds.count("start-step") == 2 and kinds.count("finish-step") == 2
    output = next(chunk for chunk in chunks if chunk["type"] == "tool-output-available")
    assert "Europe/Paris" in str(output["output"])
    assert kinds.index("tool-output-available") < kinds.index("finish-step")
    assert chunks[-1]["finishReason"] == "stop"
    # The second model call carried the tool result back.
    second = upstream.requests[1].json()
    assert second["messages"][-1]["content"][0]["type"] == "tool_result"
    assert second["tools"][0]["name"] == "current_time"


async def approval_request(client: TestClient[Any, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    response = await client.post("/api/ai/chat/b1?preset=clock-approval", json={"messages": [user_message("time?")]})
    chunks, _, _ = parse_sse(await response.text())
    assert chunks[-1]["finishReason"] == "tool-calls"
    saved = await (await client.get("/api/ai/conversations/b1")).json()
    return saved["messages"][-1], saved["messages"]


def answered(message: dict[str, Any], approved: bool, approval_id: str | None = None) -> dict[str, Any]:
    parts = []
    for part in message["parts"]:
        if part.get("state") == "approval-requested":
            part = {
                **part,
                "state": "approval-responded",
                "approval": {"id": approval_id or part["approval"]["id"], "approved": approved},
            }
        parts.append(part)
    return {**message, "parts": parts}


async def test_approval_approved_runs_the_tool_before_the_next_step(
    tool_client: TestClient[Any, Any], upstream: FakeUpstream
) -> None:
    assistant, history = await approval_request(tool_client)
    tool_part = next(part for part in assistant["parts"] if part["type"] == "tool-current_time")
    assert tool_part["state"] == "approval-requested" and tool_part["approval"]["id"].startswith("apr-")
    assert len(upstream.requests) == 1  # nothing ran yet
    follow = await tool_client.post(
        "/api/ai/chat/b1?preset=clock-approval",
        json={
            "messages": [*history[:-1], answered(assistant, True)],
            "trigger": "submit-message",
            "messageId": assistant["id"],
        },
    )
    chunks, _, _ = parse_sse(await follow.text())
    kinds = types_of(chunks)
    assert chunks[0]["messageId"] == assistant["id"]  # the same message continues
    assert kinds[1] == "tool-output-available" and kinds[2] == "start-step"
    assert chunks[-1]["finishReason"] == "stop"
    assert upstream.requests[-1].json()["messages"][-1]["content"][0]["type"] == "tool_result"


async def test_approval_denied_tells_the_model(tool_client: TestClient[Any, Any], upstream: FakeUpstream) -> None:
    assistant, history = await approval_request(tool_client)
    follow = await tool_client.post(
        "/api/ai/chat/b1?preset=clock-approval",
        json={"messages": [*history[:-1], answered(assistant, False)], "messageId": assistant["id"]},
    )
    chunks, _, _ = parse_sse(await follow.text())
    assert types_of(chunks)[1] == "tool-output-denied"
    result = upstream.requests[-1].json()["messages"][-1]["content"][0]
    assert result["type"] == "tool_result" and result["is_error"] is True
    saved = await (await tool_client.get("/api/ai/conversations/b1")).json()
    part = next(p for p in saved["messages"][-1]["parts"] if p["type"] == "tool-current_time")
    assert part["state"] == "output-denied"


async def test_forged_approval_is_not_honoured(tool_client: TestClient[Any, Any], upstream: FakeUpstream) -> None:
    assistant, history = await approval_request(tool_client)
    follow = await tool_client.post(
        "/api/ai/chat/b1?preset=clock-approval",
        json={
            "messages": [*history[:-1], answered(assistant, True, approval_id="apr-forged")],
            "messageId": assistant["id"],
        },
    )
    chunks, _, _ = parse_sse(await follow.text())
    assert types_of(chunks)[1] == "tool-output-error"  # valid next to approved: true (issue 11)
    assert "not run" in str(upstream.requests[-1].json()["messages"][-1]["content"][0]["content"])


async def test_client_tool_cannot_shadow_a_server_tool(tool_client: TestClient[Any, Any]) -> None:
    response = await tool_client.post(
        "/api/ai/chat/b1?preset=clock",
        json={"messages": [user_message("hi")], "tools": [{"name": "current_time", "inputSchema": {"type": "object"}}]},
    )
    assert response.status == 400 and "server-side tool" in (await response.json())["error"]["message"]
