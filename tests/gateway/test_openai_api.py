"""The OpenAI-compatible endpoints, driven by the official ``openai`` SDK (its parsers must
accept every response), over every provider kind behind the presets."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest

from tests.conftest import TEST_KEY
from tests.gateway.conftest import AUTH_TOKEN, Gateway

WEATHER = {
    "type": "function",
    "function": {
        "name": "weather",
        "description": "Get weather information for a location",
        "parameters": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]},
    },
}
ADD_AND_MULTIPLY = [
    {
        "type": "function",
        "function": {
            "name": name,
            "description": f"{name} two numbers",
            "parameters": {"type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}}},
        },
    }
    for name in ("add", "multiply")
]
HELLO = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hi in Portuguese"}]
CLAUDE_TEXT = (
    'Olá! (That\'s "hi" in Portuguese)\n\nYou could also say "Oi!" which is a more casual way to say hi in Portuguese.'
)


async def collect(stream: Any) -> dict[str, Any]:
    """Fold the SDK's parsed chunks the way an OpenAI client does."""
    content, reasoning, finish, usage = [], [], None, None
    calls: dict[int, dict[str, Any]] = {}
    async for chunk in stream:
        assert chunk.object == "chat.completion.chunk"
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            delta = choice.delta
            content.append(delta.content or "")
            reasoning.append((delta.model_extra or {}).get("reasoning_content") or "")
            for call in delta.tool_calls or ():
                entry = calls.setdefault(call.index, {"id": None, "name": None, "arguments": ""})
                entry["id"] = call.id or entry["id"]
                if call.function is not None:
                    entry["name"] = call.function.name or entry["name"]
                    entry["arguments"] += call.function.arguments or ""
            finish = choice.finish_reason or finish
    return {
        "content": "".join(content),
        "reasoning": "".join(reasoning),
        "calls": [calls[index] for index in sorted(calls)],
        "finish": finish,
        "usage": usage,
    }


async def test_models_lists_ready_presets(gateway: Gateway) -> None:
    models = [model async for model in gateway.openai().models.list()]
    by_id = {model.id: model for model in models}
    assert by_id["claude"].owned_by == "anthropic" and by_id["chat"].owned_by == "openai-chat"
    assert by_id["gemini"].owned_by == "google" and by_id["claude"].created > 0
    assert "no-key" not in by_id  # its key is not set: not usable, not listed


async def test_claude_non_streaming(gateway: Gateway) -> None:
    completion = await gateway.openai().chat.completions.create(model="claude", messages=HELLO)  # type: ignore[arg-type]
    assert completion.object == "chat.completion" and completion.model == "claude"
    choice = completion.choices[0]
    assert choice.message.content == CLAUDE_TEXT
    assert choice.finish_reason == "stop"
    assert completion.usage is not None and completion.usage.completion_tokens > 0
    sent = gateway.upstream.requests[-1].json()
    # The caller's system message follows the preset's; the key upstream is the preset's, never the caller's.
    assert sent["system"][0]["text"] == "You are a helpful assistant\n\nBe brief."
    assert gateway.upstream.requests[-1].headers["Authorization"] == f"Bearer {TEST_KEY}"


async def test_claude_streaming_with_usage(gateway: Gateway) -> None:
    stream = await gateway.openai().chat.completions.create(
        model="claude",
        messages=HELLO,
        stream=True,
        stream_options={"include_usage": True},  # type: ignore[arg-type]
    )
    folded = await collect(stream)
    assert folded["content"] == CLAUDE_TEXT and folded["finish"] == "stop"
    assert folded["usage"].prompt_tokens > 0 and folded["usage"].total_tokens == (
        folded["usage"].prompt_tokens + folded["usage"].completion_tokens
    )


async def test_claude_thinking_streams_as_reasoning_content(gateway: Gateway) -> None:
    stream = await gateway.openai().chat.completions.create(
        model="claude-thinking",
        messages=HELLO,
        stream=True,
        reasoning_effort="high",  # type: ignore[arg-type]
    )
    folded = await collect(stream)
    assert folded["reasoning"].startswith("The user wants a haiku about the sea.")
    assert folded["content"].startswith("Waves fold into foam")
    sent = gateway.upstream.requests[-1].json()
    assert sent["thinking"]["type"] == "enabled" and sent["output_config"] == {"effort": "high"}


async def test_parameters_are_request_layer_overrides(gateway: Gateway) -> None:
    await gateway.openai().chat.completions.create(
        model="chat",
        messages=HELLO,  # type: ignore[arg-type]
        max_completion_tokens=77,
        temperature=0.3,
        top_p=0.9,
        stop=["END", "STOP"],
    )
    sent = gateway.upstream.requests[-1].json()
    assert sent["max_tokens"] == 77 and sent["temperature"] == 0.3 and sent["top_p"] == 0.9
    assert sent["stop"] == ["END", "STOP"]
    with pytest.raises(openai.BadRequestError) as caught:
        await gateway.openai().chat.completions.create(model="chat", messages=HELLO, temperature=7)  # type: ignore[arg-type]
    assert "temperature" in caught.value.message


async def test_claude_tool_round_trip(gateway: Gateway) -> None:
    client = gateway.openai()
    question = [{"role": "user", "content": "What's the weather in Florence, Italy?"}]
    stream = await client.chat.completions.create(
        model="claude-tools",
        messages=question,
        tools=[WEATHER],
        tool_choice="auto",
        stream=True,  # type: ignore[arg-type, list-item]
    )
    folded = await collect(stream)
    assert folded["finish"] == "tool_calls"
    (call,) = folded["calls"]
    assert call["name"] == "weather" and json.loads(call["arguments"]) == {"location": "Florence, Italy"}
    first_request = gateway.upstream.requests[-1].json()
    # Only the caller's tools: the preset's server tool (current_time) is not offered to API callers.
    assert [tool["name"] for tool in first_request["tools"]] == ["weather"]
    assert first_request["tool_choice"] == {"type": "auto"}
    follow_up = [
        *question,
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": call["id"], "type": "function", "function": {"name": "weather", "arguments": call["arguments"]}}
            ],
        },
        {"role": "tool", "tool_call_id": call["id"], "content": "40 C"},
    ]
    completion = await client.chat.completions.create(model="claude-tools", messages=follow_up, tools=[WEATHER])  # type: ignore[arg-type, list-item]
    assert completion.choices[0].message.content.startswith("The current weather in Florence, Italy is 40°C")  # type: ignore[union-attr]
    sent = gateway.upstream.requests[-1].json()
    assert sent["messages"][-1]["content"][0] == {
        "type": "tool_result",
        "tool_use_id": call["id"],
        "content": [{"type": "text", "text": "40 C"}],
    }


async def test_openai_chat_parallel_tool_calls_keep_their_index(gateway: Gateway) -> None:
    client = gateway.openai()
    question = [{"role": "user", "content": "Add and multiply 2 and 3"}]
    stream = await client.chat.completions.create(
        model="chat-tools",
        messages=question,
        tools=ADD_AND_MULTIPLY,
        parallel_tool_calls=True,
        stream=True,  # type: ignore[arg-type]
    )
    folded = await collect(stream)
    assert [(call["name"], json.loads(call["arguments"])) for call in folded["calls"]] == [
        ("add", {"a": 2, "b": 3}),
        ("multiply", {"a": 2, "b": 3}),
    ]
    assert gateway.upstream.requests[-1].json()["parallel_tool_calls"] is True
    completion = await client.chat.completions.create(
        model="chat-tools",
        messages=[  # type: ignore[arg-type]
            *question,
            {
                "role": "assistant",
                "tool_calls": [
                    {
                        "id": call["id"],
                        "type": "function",
                        "function": {"name": call["name"], "arguments": call["arguments"]},
                    }
                    for call in folded["calls"]
                ],
            },
            {"role": "tool", "tool_call_id": folded["calls"][0]["id"], "content": "5"},
            {"role": "tool", "tool_call_id": folded["calls"][1]["id"], "content": "6"},
        ],
        tools=ADD_AND_MULTIPLY,  # type: ignore[arg-type]
    )
    assert completion.choices[0].message.content == "The sum of 2 and 3 is 5, and the product is 6."
    sent = gateway.upstream.requests[-1].json()["messages"]
    assert [message["role"] for message in sent[-3:]] == ["assistant", "tool", "tool"]


async def test_cached_and_reasoning_token_details(gateway: Gateway) -> None:
    completion = await gateway.openai().chat.completions.create(model="chat", messages=HELLO)  # type: ignore[arg-type]
    usage = completion.usage
    assert usage is not None and usage.prompt_tokens == 2006 and usage.completion_tokens == 2
    assert usage.prompt_tokens_details is not None and usage.prompt_tokens_details.cached_tokens == 1920
    assert usage.completion_tokens_details is not None and usage.completion_tokens_details.reasoning_tokens == 0


async def test_compatible_server_reasoning_content_passes_through(gateway: Gateway) -> None:
    completion = await gateway.openai().chat.completions.create(model="chat-reasoning", messages=HELLO)  # type: ignore[arg-type]
    message = completion.choices[0].message
    assert message.content == "Olá!"
    assert (message.model_extra or {})["reasoning_content"].startswith('The user: "Say hi in Portuguese"')


async def test_gemini_and_gpt_behind_the_openai_api(gateway: Gateway) -> None:
    client = gateway.openai()
    gemini = await collect(await client.chat.completions.create(model="gemini", messages=HELLO, stream=True))  # type: ignore[arg-type]
    assert gemini["content"] and gemini["finish"] == "stop"
    gpt = await client.chat.completions.create(model="gpt", messages=HELLO)  # type: ignore[arg-type]
    assert gpt.choices[0].message.content == 'Hi in Portuguese is "Oi!"'


async def test_unknown_model_is_404_model_not_found(gateway: Gateway) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        await gateway.openai().chat.completions.create(model="gpt-99", messages=HELLO)  # type: ignore[arg-type]
    assert caught.value.code == "model_not_found" and "gpt-99" in caught.value.message


async def test_rate_limit_is_429_with_retry_after(gateway: Gateway) -> None:
    with pytest.raises(openai.RateLimitError) as caught:
        await gateway.openai().chat.completions.create(model="claude-429", messages=HELLO, stream=True)  # type: ignore[arg-type]
    assert caught.value.response.headers["retry-after"] == "2"
    assert caught.value.code == "rate_limit_exceeded"


async def test_upstream_failures_are_502_and_503(gateway: Gateway) -> None:
    client = gateway.openai()
    with pytest.raises(openai.InternalServerError) as bad_gateway:
        await client.chat.completions.create(model="claude-auth", messages=HELLO)  # type: ignore[arg-type]
    assert bad_gateway.value.status_code == 502
    assert TEST_KEY not in bad_gateway.value.response.text
    with pytest.raises(openai.InternalServerError) as unavailable:
        await client.chat.completions.create(model="chat-503", messages=HELLO)  # type: ignore[arg-type]
    assert unavailable.value.status_code == 503


async def test_midstream_error_is_an_error_event_then_done(gateway: Gateway) -> None:
    stream = await gateway.openai().chat.completions.create(model="chat-midstream", messages=HELLO, stream=True)  # type: ignore[arg-type]
    seen: list[str] = []
    with pytest.raises(openai.APIError) as caught:
        async for chunk in stream:
            seen.extend(choice.delta.content or "" for choice in chunk.choices)
    assert "".join(seen) == "Olá"
    assert "the service failed" in caught.value.message or "overloaded" in caught.value.message


async def test_bad_requests_are_400_in_openai_shape(gateway: Gateway) -> None:
    client = gateway.openai()
    with pytest.raises(openai.BadRequestError) as missing:
        await client.chat.completions.create(model="claude", messages=[])
    assert missing.value.code == "invalid_request"
    with pytest.raises(openai.BadRequestError) as system:
        await client.chat.completions.create(model="strict", messages=HELLO)  # type: ignore[arg-type]
    assert system.value.code == "option_not_allowed"
    with pytest.raises(openai.BadRequestError) as stray:
        await client.chat.completions.create(
            model="claude", messages=[{"role": "tool", "tool_call_id": "nope", "content": "x"}]
        )
    assert "nope" in stray.value.message


async def test_images_reach_the_provider(gateway: Gateway) -> None:
    pixel = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
    content = [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{pixel}"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
    ]
    await gateway.openai().chat.completions.create(model="claude", messages=[{"role": "user", "content": content}])  # type: ignore[list-item, misc]
    sent = gateway.upstream.requests[-1].json()["messages"][0]["content"]
    assert sent[1]["source"] == {"type": "base64", "media_type": "image/png", "data": pixel}
    assert sent[2]["source"] == {"type": "url", "url": "https://example.com/cat.jpg"}


async def test_auth_token_as_bearer_key_never_forwarded(locked_gateway: Gateway) -> None:
    with pytest.raises(openai.AuthenticationError) as refused:
        await locked_gateway.openai("wrong").chat.completions.create(model="claude", messages=HELLO)  # type: ignore[arg-type]
    assert refused.value.code == "invalid_api_key"
    completion = await locked_gateway.openai(AUTH_TOKEN).chat.completions.create(model="claude", messages=HELLO)  # type: ignore[arg-type]
    assert completion.choices[0].message.content == CLAUDE_TEXT
    upstream_request = locked_gateway.upstream.requests[-1]
    assert AUTH_TOKEN not in json.dumps(upstream_request.headers) + upstream_request.body.decode()


async def stored(gateway: Gateway, block: str) -> list[dict[str, Any]]:
    import aiohttp

    from backend.aisdk.request import parse_ui_messages

    async with aiohttp.ClientSession() as session, session.get(f"{gateway.url}/api/ai/conversations/{block}") as got:
        messages: list[dict[str, Any]] = (await got.json())["messages"]
    parse_ui_messages(messages)  # what the web UI and useChat will open must be valid UIMessages
    return messages


async def test_a_block_header_keeps_the_conversation_in_that_block(gateway: Gateway) -> None:
    client = gateway.openai()
    completion = await client.chat.completions.create(
        model="claude",
        messages=HELLO,  # type: ignore[arg-type]
        extra_headers={"X-Chatwire-Block": "notes"},
    )
    messages = await stored(gateway, "notes")
    assert [message["role"] for message in messages] == ["system", "user", "assistant"]
    assert messages[1]["parts"] == [{"type": "text", "text": "Say hi in Portuguese"}]
    answer_text = "".join(part["text"] for part in messages[2]["parts"] if part["type"] == "text")
    assert answer_text == completion.choices[0].message.content == CLAUDE_TEXT
    # Without the header nothing is kept anywhere.
    await client.chat.completions.create(model="claude", messages=HELLO)  # type: ignore[arg-type]
    import aiohttp

    async with aiohttp.ClientSession() as session, session.get(f"{gateway.url}/api/ai/conversations") as listed:
        assert [item["blockId"] for item in (await listed.json())["conversations"]] == ["notes"]


async def test_a_kept_tool_round_trip_is_one_assistant_message_with_its_tool_part(gateway: Gateway) -> None:
    client = gateway.openai()
    first = await client.chat.completions.create(
        model="claude-tools",
        messages=[{"role": "user", "content": "Weather in Paris?"}],
        tools=[WEATHER],  # type: ignore[list-item]
        extra_headers={"X-Chatwire-Block": "trip"},
    )
    call = first.choices[0].message.tool_calls[0]  # type: ignore[index]
    history = [
        {"role": "user", "content": "Weather in Paris?"},
        first.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": '{"temperature": 18}'},
    ]
    await client.chat.completions.create(
        model="claude-tools",
        messages=history,  # type: ignore[arg-type]
        tools=[WEATHER],  # type: ignore[list-item]
        extra_headers={"X-Chatwire-Block": "trip"},
    )
    messages = await stored(gateway, "trip")
    assert [message["role"] for message in messages] == ["user", "assistant", "assistant"]
    tool_parts = [part for part in messages[1]["parts"] if part["type"] == "tool-weather"]
    assert tool_parts == [
        {
            "type": "tool-weather",
            "toolCallId": call.id,
            "input": json.loads(call.function.arguments),
            "state": "output-available",
            "output": '{"temperature": 18}',
        }
    ]


async def test_a_bad_block_header_is_a_400(gateway: Gateway) -> None:
    with pytest.raises(openai.BadRequestError):
        await gateway.openai().chat.completions.create(
            model="claude",
            messages=HELLO,  # type: ignore[arg-type]
            extra_headers={"X-Chatwire-Block": "../etc"},
        )


async def test_v1_keeps_the_browser_rules(gateway: Gateway) -> None:
    """SDKs send no Origin; a cross-site page and a "simple" text/plain post are still refused."""
    import aiohttp

    body = '{"model": "claude", "messages": [{"role": "user", "content": "hi"}]}'
    url = f"{gateway.url}/v1/chat/completions"
    async with aiohttp.ClientSession() as session:
        async with session.post(url, data=body, headers={"Content-Type": "text/plain"}) as plain:
            assert plain.status == 415
        headers = {"Content-Type": "application/json", "Origin": "https://attacker.example"}
        async with session.post(url, data=body, headers=headers) as cross_site:
            assert cross_site.status == 403
    assert gateway.upstream.requests == []
