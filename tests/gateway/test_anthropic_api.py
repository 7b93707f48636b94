"""The Anthropic-compatible endpoints, driven by the official ``anthropic`` SDK (its parsers and
its stream accumulator must accept every response), over every provider kind."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anthropic
import pytest

from tests.gateway.conftest import AUTH_TOKEN, Gateway
from tests.upstream import Reply

FIXTURES = Path(__file__).parent.parent / "fixtures"
SIGNATURE = json.loads((FIXTURES / "anthropic" / "thinking_tool_use.meta.json").read_text())["expect"]["signatures"][0]
WEATHER = {
    "name": "weather",
    "description": "Get weather information for a location",
    "input_schema": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]},
}
QUESTION = [{"role": "user", "content": "What's the weather in Florence, Italy?"}]
HELLO = [{"role": "user", "content": "Say hi in Portuguese"}]


async def stream_events(client: anthropic.AsyncAnthropic, **params: Any) -> tuple[list[str], Any]:
    """The raw event types and the SDK's accumulated final message."""
    types: list[str] = []
    async with client.messages.stream(**params) as stream:
        async for event in stream:
            types.append(event.type)
        message = await stream.get_final_message()
    return types, message


async def test_claude_streaming_sequence_with_thinking_signature(gateway: Gateway) -> None:
    types, message = await stream_events(
        gateway.anthropic(),
        model="claude-tools",
        max_tokens=1000,
        messages=QUESTION,
        tools=[WEATHER],
        thinking={"type": "enabled", "budget_tokens": 2048},
    )
    assert types[:2] == ["message_start", "content_block_start"] or types[0] == "message_start"
    assert types[-2:] == ["message_delta", "message_stop"]
    thinking, tool_use = message.content
    assert thinking.type == "thinking" and thinking.signature == SIGNATURE and thinking.thinking
    assert (
        tool_use.type == "tool_use" and tool_use.name == "weather" and tool_use.input == {"location": "Florence, Italy"}
    )
    assert message.stop_reason == "tool_use" and message.usage.output_tokens > 0
    sent = gateway.upstream.requests[-1].json()
    assert sent["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert [tool["name"] for tool in sent["tools"]] == ["weather"]


async def test_claude_tool_round_trip_sends_the_signature_back(gateway: Gateway) -> None:
    client = gateway.anthropic()
    first = await client.messages.create(model="claude-tools", max_tokens=1000, messages=QUESTION, tools=[WEATHER])  # type: ignore[arg-type, list-item]
    thinking, tool_use = first.content
    assert thinking.type == "thinking" and thinking.signature == SIGNATURE
    assert tool_use.type == "tool_use"
    answer = await client.messages.create(
        model="claude-tools",
        max_tokens=1000,
        tools=[WEATHER],  # type: ignore[list-item]
        messages=[  # type: ignore[list-item]
            *QUESTION,
            {"role": "assistant", "content": [block.model_dump() for block in first.content]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool_use.id, "content": "40 C"}]},
        ],
    )
    assert answer.content[0].type == "text" and answer.content[0].text.startswith("The current weather in Florence")
    assert answer.stop_reason == "end_turn"
    sent = gateway.upstream.requests[-1].json()["messages"]
    assert sent[1]["content"][0] == {"type": "thinking", "thinking": thinking.thinking, "signature": SIGNATURE}
    assert sent[2]["content"][0]["tool_use_id"] == tool_use.id


async def test_gpt_behind_the_anthropic_api_with_a_tool_round_trip(gateway: Gateway) -> None:
    client = gateway.anthropic()
    types, first = await stream_events(client, model="gpt-tools", max_tokens=1000, messages=QUESTION, tools=[WEATHER])
    assert types[0] == "message_start" and types[-1] == "message_stop"
    kinds = [block.type for block in first.content]
    assert kinds == ["thinking", "tool_use"]
    assert first.content[0].signature == ""  # not Anthropic's reasoning: no signature
    tool_use = first.content[1]
    assert tool_use.name == "weather" and "location" in tool_use.input
    assert first.stop_reason == "tool_use"
    answer = await client.messages.create(
        model="gpt-tools",
        max_tokens=1000,
        tools=[WEATHER],  # type: ignore[list-item]
        messages=[  # type: ignore[list-item]
            *QUESTION,
            {"role": "assistant", "content": [block.model_dump() for block in first.content]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool_use.id, "content": "40 C"}]},
        ],
    )
    assert answer.content[0].text == 'Hi in Portuguese is "Oi!"'  # type: ignore[union-attr]
    sent = gateway.upstream.requests[-1].json()["input"]
    assert sent[-1] == {"type": "function_call_output", "call_id": tool_use.id, "output": "40 C"}


async def test_gemini_behind_the_anthropic_api_with_a_tool_round_trip(gateway: Gateway) -> None:
    client = gateway.anthropic()
    _, first = await stream_events(client, model="gemini-tools", max_tokens=1000, messages=QUESTION, tools=[WEATHER])
    assert [block.type for block in first.content] == ["thinking", "tool_use"]
    tool_use = first.content[1]
    assert tool_use.input == {"location": "Florence, Italy"} and first.stop_reason == "tool_use"
    answer = await client.messages.create(
        model="gemini-tools",
        max_tokens=1000,
        tools=[WEATHER],  # type: ignore[list-item]
        messages=[  # type: ignore[list-item]
            *QUESTION,
            {"role": "assistant", "content": [block.model_dump() for block in first.content]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool_use.id, "content": "40 C"}]},
        ],
    )
    assert answer.content[0].text == "The weather in Florence, Italy is 40 C."  # type: ignore[union-attr]
    assert answer.usage.input_tokens == 146 and answer.usage.output_tokens > 0


async def test_openai_chat_behind_the_anthropic_api(gateway: Gateway) -> None:
    client = gateway.anthropic()
    message = await client.messages.create(model="chat", max_tokens=100, messages=HELLO, system="Be brief.")  # type: ignore[arg-type]
    assert message.content[0].text == "Olá!"  # type: ignore[union-attr]
    # Anthropic counts input without the cached part; cache reads are their own number.
    assert message.usage.input_tokens == 2006 - 1920 and message.usage.cache_read_input_tokens == 1920
    _, parallel = await stream_events(
        client,
        model="chat-tools",
        max_tokens=100,
        messages=[{"role": "user", "content": "Add and multiply 2 and 3"}],
        tools=[
            {"name": name, "input_schema": {"type": "object", "properties": {"a": {}, "b": {}}}}
            for name in ("add", "multiply")
        ],
        tool_choice={"type": "any", "disable_parallel_tool_use": False},
    )
    assert [(block.name, block.input) for block in parallel.content] == [
        ("add", {"a": 2, "b": 3}),
        ("multiply", {"a": 2, "b": 3}),
    ]
    assert gateway.upstream.requests[-1].json()["tool_choice"] == "required"
    _, reasoning = await stream_events(client, model="chat-reasoning", max_tokens=100, messages=HELLO)
    assert reasoning.content[0].type == "thinking" and reasoning.content[0].thinking.startswith("The user:")
    assert reasoning.content[1].text == "Olá!"


async def test_cache_control_is_honoured_for_anthropic(gateway: Gateway) -> None:
    message = await gateway.anthropic().messages.create(
        model="claude-cache",
        max_tokens=100,
        messages=[  # type: ignore[list-item]
            {
                "role": "user",
                "content": [{"type": "text", "text": "a long document", "cache_control": {"type": "ephemeral"}}],
            }
        ],
    )
    sent = gateway.upstream.requests[-1].json()
    assert sent["messages"][0]["content"][0]["cache_control"] == {"type": "ephemeral"}
    assert message.usage.cache_read_input_tokens and message.usage.cache_creation_input_tokens


async def test_stop_sequences_and_sampling_reach_the_provider(gateway: Gateway) -> None:
    await gateway.anthropic().messages.create(
        model="gemini",
        max_tokens=123,
        messages=HELLO,
        stop_sequences=["END"],
        extra_body={"temperature": 0.2},  # type: ignore[arg-type]
    )
    config = gateway.upstream.requests[-1].json()["generationConfig"]
    assert config["stopSequences"] == ["END"] and config["maxOutputTokens"] == 123 and config["temperature"] == 0.2


async def test_errors_in_anthropic_shape(gateway: Gateway) -> None:
    client = gateway.anthropic()
    with pytest.raises(anthropic.NotFoundError) as missing:
        await client.messages.create(model="claude-99", max_tokens=10, messages=HELLO)  # type: ignore[arg-type]
    assert missing.value.body["error"]["type"] == "not_found_error"  # type: ignore[index]
    with pytest.raises(anthropic.APIStatusError) as overloaded:
        await client.messages.create(model="claude-529", max_tokens=10, messages=HELLO)  # type: ignore[arg-type]
    assert overloaded.value.status_code == 529
    assert overloaded.value.body["error"]["type"] == "overloaded_error"  # type: ignore[index]
    with pytest.raises(anthropic.RateLimitError) as limited:
        await client.messages.create(model="claude-429", max_tokens=10, messages=HELLO, stream=True)  # type: ignore[arg-type]
    assert limited.value.response.headers["retry-after"] == "2"
    with pytest.raises(anthropic.BadRequestError) as invalid:
        await client.messages.create(model="claude", max_tokens=0, messages=HELLO)  # type: ignore[arg-type]
    assert "max_tokens" in invalid.value.message


async def test_midstream_error_is_an_error_event(gateway: Gateway) -> None:
    client = gateway.anthropic()
    texts: list[str] = []
    with pytest.raises(anthropic.APIStatusError) as caught:
        async with client.messages.stream(model="claude-midstream", max_tokens=10, messages=HELLO) as stream:  # type: ignore[arg-type]
            async for text in stream.text_stream:
                texts.append(text)
    assert "".join(texts) == 'Olá! (That\'s "hi" in Portuguese)'
    assert caught.value.body["error"]["type"] == "overloaded_error"  # type: ignore[index]


async def test_count_tokens_where_the_provider_can(gateway: Gateway) -> None:
    client = gateway.anthropic()
    gateway.upstream.enqueue(
        Reply(status=200, headers={"content-type": "application/json"}, body=b'{"input_tokens": 42}')
    )
    counted = await client.messages.count_tokens(model="claude", messages=HELLO, system="Be brief.")  # type: ignore[arg-type]
    assert counted.input_tokens == 42
    request = gateway.upstream.requests[-1]
    assert request.path.endswith("/v1/messages/count_tokens") and "max_tokens" not in request.json()
    with pytest.raises(anthropic.APIStatusError) as unsupported:
        await client.messages.count_tokens(model="gpt", messages=HELLO)  # type: ignore[arg-type]
    assert unsupported.value.status_code == 501 and "cannot count tokens" in unsupported.value.message


async def test_models_in_anthropic_shape(gateway: Gateway) -> None:
    models = [model async for model in gateway.anthropic().models.list()]
    assert {"claude", "gpt", "gemini", "chat"} <= {model.id for model in models}
    assert all(model.type == "model" for model in models)


async def test_x_api_key_is_checked_and_never_forwarded(locked_gateway: Gateway) -> None:
    with pytest.raises(anthropic.AuthenticationError) as refused:
        await locked_gateway.anthropic("wrong").messages.create(model="claude", max_tokens=10, messages=HELLO)  # type: ignore[arg-type]
    assert refused.value.body["error"]["type"] == "authentication_error"  # type: ignore[index]
    client = anthropic.AsyncAnthropic(base_url=locked_gateway.url, api_key=AUTH_TOKEN, max_retries=0)
    # The SDK sends the key as x-api-key when given as api_key... or as a bearer token: both are accepted.
    message = await client.messages.create(
        model="claude",
        max_tokens=10,
        messages=HELLO,
        extra_headers={"x-api-key": AUTH_TOKEN},  # type: ignore[arg-type]
    )
    assert message.content[0].text.startswith("Olá!")  # type: ignore[union-attr]
    upstream_request = locked_gateway.upstream.requests[-1]
    assert AUTH_TOKEN not in json.dumps(upstream_request.headers) + upstream_request.body.decode()


async def test_raw_event_sequence_has_ping_and_block_order(gateway: Gateway) -> None:
    """The wire itself, as Anthropic sends it (the SDK hides ``ping``)."""
    import aiohttp

    tools = [{"name": name, "input_schema": {"type": "object"}} for name in ("add", "multiply")]
    body = {"model": "chat-tools", "max_tokens": 50, "stream": True, "messages": HELLO, "tools": tools}
    async with aiohttp.ClientSession() as session, session.post(f"{gateway.url}/v1/messages", json=body) as response:
        assert response.status == 200 and response.headers["Content-Type"] == "text/event-stream"
        text = await response.text()
    names = [line.removeprefix("event: ") for line in text.splitlines() if line.startswith("event: ")]
    assert names[:2] == ["message_start", "ping"] and names[-2:] == ["message_delta", "message_stop"]
    starts = [
        json.loads(line[6:])
        for line in text.splitlines()
        if line.startswith("data: ") and "content_block_start" in line
    ]
    assert [start["index"] for start in starts] == [0, 1]
    assert [start["content_block"]["name"] for start in starts] == ["add", "multiply"]
