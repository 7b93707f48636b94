"""One conversation across providers: Anthropic → OpenAI → Gemini → Anthropic, asserting the exact
requests each upstream got: foreign reasoning never replayed as opaque state, tool calls and results
converted, each provider's own state (signatures) sent back unmodified."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from backend.app import create_app
from tests.conftest import make_settings, write_fixture_presets, write_preset
from tests.upstream import FakeUpstream
from tests.web.test_chat_endpoint import user_message

FIXTURES = Path(__file__).parent.parent / "fixtures"
WEATHER_TOOL = {
    "name": "weather",
    "description": "Get weather information for a location",
    "inputSchema": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]},
}
SIGNATURE = json.loads((FIXTURES / "anthropic" / "thinking_tool_use.meta.json").read_text())["expect"]["signatures"][0]


@pytest.fixture
async def client(tmp_path: Path, upstream: FakeUpstream, aiohttp_client: Any) -> TestClient[Any, Any]:
    presets = tmp_path / "presets"
    write_fixture_presets(presets, upstream.url)
    cases = {
        "claude": ("anthropic", "anthropic", "thinking_tool_use"),
        "claude-text": ("anthropic", "anthropic", "text_basic"),
        "gpt": ("openai", "openai", "responses_text_basic"),
        "gemini": ("google", "google", "text_basic"),
    }
    for name, (provider, folder, case) in cases.items():
        write_preset(
            presets,
            name,
            f"""
            provider = "{provider}"
            model = "model-{name}"
            base_url = "{upstream.url}/{folder}/{case}"
            api_key_env = "TEST_ANTHROPIC_KEY"
            [thinking]
            enabled = true
            budget_tokens = 2048
            """,
        )
    result: TestClient[Any, Any] = await aiohttp_client(create_app(make_settings(tmp_path, presets)))
    return result


async def chat(client: TestClient[Any, Any], preset: str, messages: list[dict[str, Any]], **extra: Any) -> None:
    response = await client.post(f"/api/ai/chat/x?preset={preset}", json={"messages": messages, **extra})
    assert response.status == 200, await response.text()
    text = await response.text()
    assert '"type":"error"' not in text, text


async def saved(client: TestClient[Any, Any]) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = (await (await client.get("/api/ai/conversations/x")).json())["messages"]
    return messages


def with_tool_output(message: dict[str, Any]) -> dict[str, Any]:
    parts = [
        {**part, "state": "output-available", "output": {"temperature": "22C"}}
        if part["type"] == "tool-weather"
        else part
        for part in message["parts"]
    ]
    return {**message, "parts": parts}


async def test_anthropic_openai_gemini_anthropic(client: TestClient[Any, Any], upstream: FakeUpstream) -> None:
    # 1. Anthropic with thinking calls the client tool; the browser answers; Anthropic finishes.
    await chat(client, "claude", [user_message("Weather in Florence?", "u1")], tools=[WEATHER_TOOL])
    history = await saved(client)
    assert history[-1]["parts"][1]["providerMetadata"]["anthropic"]["signature"] == SIGNATURE
    await chat(
        client,
        "claude",
        [*history[:-1], with_tool_output(history[-1])],
        tools=[WEATHER_TOOL],
        messageId=history[-1]["id"],
    )
    history = await saved(client)
    assert [m["role"] for m in history] == ["user", "assistant"]

    # 2. OpenAI Responses: Anthropic's thinking is not sent; the tool call and result are converted.
    await chat(client, "gpt", [*history, user_message("And in Rome?", "u2")])
    sent = upstream.requests[-1].json()
    items = sent["input"]
    kinds = [item.get("type", item.get("role")) for item in items]
    assert "reasoning" not in kinds  # no foreign opaque reasoning
    assert SIGNATURE not in json.dumps(sent)
    call = next(item for item in items if item.get("type") == "function_call")
    assert call["name"] == "weather" and json.loads(call["arguments"]) == {"location": "Florence, Italy"}
    output = next(item for item in items if item.get("type") == "function_call_output")
    assert output["call_id"] == call["call_id"] and "22C" in output["output"]
    assert kinds.index("function_call") < kinds.index("function_call_output")
    history = await saved(client)
    openai_reasoning = [p for p in history[-1]["parts"] if p["type"] == "reasoning"]

    # 3. Gemini: tool call with the documented placeholder signature, one functionResponse turn,
    #    no Anthropic or OpenAI reasoning.
    await chat(client, "gemini", [*history, user_message("And in Milan?", "u3")])
    sent = upstream.requests[-1].json()
    body = json.dumps(sent)
    assert SIGNATURE not in body and "reasoningEncryptedContent" not in body
    contents = sent["contents"]
    model_parts = [part for content in contents if content["role"] == "model" for part in content["parts"]]
    calls = [part for part in model_parts if "functionCall" in part or "function_call" in part]
    assert len(calls) == 1
    signature = calls[0].get("thoughtSignature") or calls[0].get("thought_signature")
    assert signature == "skip_thought_signature_validator"  # Google's documented placeholder
    assert not any(part.get("thought") for part in model_parts)
    responses = [
        part
        for content in contents
        for part in content["parts"]
        if "functionResponse" in part or "function_response" in part
    ]
    assert len(responses) == 1 and "22C" in json.dumps(responses[0])
    assert contents[-1] == {"role": "user", "parts": [{"text": "And in Milan?"}]}
    history = await saved(client)
    assert openai_reasoning == [] or all("openai" in p.get("providerMetadata", {}) for p in openai_reasoning)

    # 4. Back to Anthropic: its own thinking block goes back unmodified with the signature, in order,
    #    before the tool_use; the other providers' answers are plain text.
    await chat(client, "claude-text", [*history, user_message("Thanks!", "u4")])
    sent = upstream.requests[-1].json()
    first_assistant = next(m for m in sent["messages"] if m["role"] == "assistant")
    block_types = [block["type"] for block in first_assistant["content"]]
    assert block_types[0] == "thinking" and first_assistant["content"][0]["signature"] == SIGNATURE
    assert "tool_use" in block_types
    tool_results = [
        block
        for m in sent["messages"]
        if m["role"] == "user"
        for block in m["content"]
        if isinstance(block, dict) and block.get("type") == "tool_result"
    ]
    assert len(tool_results) == 1
    later = json.dumps(sent["messages"][2:])
    assert "thoughtSignature" not in later and "encrypted_content" not in later
    assert sum(1 for block in json.dumps(sent).split('"type": "thinking"')) - 1 <= 1
    assert sent["messages"][-1]["content"][-1]["text"] == "Thanks!"
    roles = [m["role"] for m in sent["messages"]]
    assert all(a != b for a, b in itertools.pairwise(roles))  # alternation kept
    assert len(upstream.requests) == 5


async def test_unsupported_file_for_the_target_names_the_part(
    client: TestClient[Any, Any], tmp_path: Path, upstream: FakeUpstream
) -> None:
    write_preset(
        tmp_path / "presets",
        "compat",
        f"""
        provider = "openai-chat"
        model = "llama"
        base_url = "{upstream.url}/openai/chat_text_basic"
        """,
    )
    from backend.web.app_keys import PRESETS

    client.app[PRESETS].reload()  # type: ignore[index]
    pdf = {"type": "file", "mediaType": "application/pdf", "url": "data:application/pdf;base64,JVBERi0xLjQK"}
    message = {"id": "u1", "role": "user", "parts": [pdf, {"type": "text", "text": "summarise"}]}
    response = await client.post("/api/ai/chat/x?preset=compat", json={"messages": [message]})
    text = await response.text()
    assert '"type":"error"' in text and "messages[0].parts[0]" in text
    assert upstream.requests == []  # nothing was sent
    # The same file goes to Anthropic as a document block.
    await chat(client, "claude-text", [message])
    document = upstream.requests[-1].json()["messages"][0]["content"][0]
    assert document["type"] == "document" and document["source"]["media_type"] == "application/pdf"
