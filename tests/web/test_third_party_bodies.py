"""assistant-ui's ``AssistantChatTransport`` body (docs/api.md#third-party-uis) in process:
``{id, messages, trigger, messageId, metadata, tools, system, callSettings, config}`` with the
tools map, call settings and system under the rules of ``options``, ``config`` ignored and logged,
unknown fields ignored. The real assistant-ui page drives it in tests/e2e/test_assistant_ui.py."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from backend.app import create_app
from tests.conftest import TEST_KEY, make_settings, write_fixture_presets, write_preset
from tests.sse import parse_sse
from tests.upstream import FakeUpstream
from tests.web.test_chat_endpoint import user_message

WEATHER_SCHEMA = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "properties": {"location": {"type": "string"}},
    "required": ["location"],
    "additionalProperties": False,
}


def assistant_ui_body(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "thread-1",
        "messages": [user_message("hi")],
        "trigger": "submit-message",
        "messageId": None,
        "metadata": {"threadId": "t1"},
        "tools": {"get_weather": {"description": "The weather in a city", "parameters": WEATHER_SCHEMA}},
        "callSettings": {"temperature": 0.3, "maxTokens": 321},
        "config": {"apiKey": "sk-browser-key-0123456789", "baseUrl": "https://evil.example/v1", "modelName": "gpt-x"},
        "someAppField": {"anything": [1, 2]},
    }
    body.update(fields)
    return body


@pytest.fixture
async def client(tmp_path: Path, upstream: FakeUpstream, aiohttp_client: Any) -> TestClient[Any, Any]:
    presets_dir = tmp_path / "presets"
    write_fixture_presets(presets_dir, upstream.url)
    write_preset(
        presets_dir,
        "open-system",
        f"""
        provider = "anthropic"
        model = "claude-sonnet-5-5"
        base_url = "{upstream.url}/anthropic/text_basic"
        api_key_env = "TEST_ANTHROPIC_KEY"
        allow_system_override = true
        """,
    )
    result: TestClient[Any, Any] = await aiohttp_client(create_app(make_settings(tmp_path, presets_dir)))
    return result


async def test_the_whole_body_works_end_to_end(
    client: TestClient[Any, Any], upstream: FakeUpstream, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="backend.web.chat"):
        response = await client.post("/api/ai/chat/b1", json=assistant_ui_body())
        chunks, _, done = parse_sse(await response.text())
    assert response.status == 200 and done and chunks[-1]["finishReason"] == "stop"
    (sent,) = upstream.requests
    request = sent.json()
    # The tools map became a client tool, exactly like the list form.
    (tool,) = request["tools"]
    assert (tool["name"], tool["description"], tool["input_schema"]) == (
        "get_weather",
        "The weather in a city",
        WEATHER_SCHEMA,
    )
    assert (request["temperature"], request["max_tokens"]) == (0.3, 321)
    # config is never honoured: the preset's model, key and upstream; the browser's key goes nowhere.
    assert request["model"] == "claude-sonnet-5-5"
    assert sent.headers["Authorization"] == f"Bearer {TEST_KEY}"  # the server's key, as the SDK sends it
    assert "sk-browser-key" not in sent.body.decode() and "evil.example" not in sent.body.decode()
    logged = [record.getMessage() for record in caplog.records if "config" in record.getMessage()]
    assert logged and "apiKey" in logged[0] and "sk-browser-key" not in logged[0]
    metadata = chunks[0]["messageMetadata"]
    assert metadata["resolvedFrom"]["temperature"] == "request"


async def test_the_list_form_and_the_map_form_are_the_same_tools(
    client: TestClient[Any, Any], upstream: FakeUpstream
) -> None:
    listed = {"tools": [{"name": "get_weather", "description": "The weather in a city", "inputSchema": WEATHER_SCHEMA}]}
    for body in (assistant_ui_body(), {"messages": [user_message("hi")], **listed}):
        response = await client.post("/api/ai/chat/b1", json=body)
        assert response.status == 200
        await response.text()
    first, second = (request.json()["tools"] for request in upstream.requests)
    assert first == second


async def test_options_win_over_call_settings(client: TestClient[Any, Any], upstream: FakeUpstream) -> None:
    response = await client.post("/api/ai/chat/b1", json=assistant_ui_body(options={"temperature": 0.9}))
    assert response.status == 200
    await response.text()
    assert upstream.requests[0].json()["temperature"] == 0.9


@pytest.mark.parametrize(
    ("fields", "code", "field"),
    [
        ({"callSettings": {"headers": {"x": "y"}}}, "option_not_allowed", "callSettings.headers"),
        ({"callSettings": {"seed": 7}}, "unknown_option", "callSettings.seed"),
        ({"callSettings": {"temperature": 9}}, "invalid_option", "callSettings.temperature"),
        ({"system": "You are a pirate"}, "option_not_allowed", "system"),
        ({"tools": {"bad name!": {"parameters": {"type": "object"}}}}, "invalid_body", None),
        ({"tools": {"get_weather": "not a schema"}}, "invalid_body", None),
    ],
)
async def test_what_the_rules_refuse(
    client: TestClient[Any, Any], upstream: FakeUpstream, fields: dict[str, Any], code: str, field: str | None
) -> None:
    response = await client.post("/api/ai/chat/b1", json=assistant_ui_body(**fields))
    error = (await response.json())["error"]
    assert response.status == 400 and error["code"] == code, error
    if field is not None:
        assert error["field"] == field
    assert upstream.requests == []


async def test_system_follows_the_override_rule(client: TestClient[Any, Any], upstream: FakeUpstream) -> None:
    response = await client.post(
        "/api/ai/chat/b1?preset=open-system", json=assistant_ui_body(system="You are a pirate", tools=None)
    )
    assert response.status == 200
    await response.text()
    assert [block["text"] for block in upstream.requests[0].json()["system"]] == ["You are a pirate"]
