"""Provider ``openai-chat`` (Chat Completions and compatible servers) against the real SDK.

Every transcript in tests/fixtures/openai named ``chat_*`` (and the composed Ollama, Perplexity
and OpenRouter ones) is replayed byte for byte by tests/upstream.py; we assert the events we
translate AND the request the SDK sent.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator
from typing import Any, cast

import pytest

from backend.errors import ProviderError
from backend.events import (
    Finish,
    JsonValue,
    ProviderEvent,
    ReasoningDelta,
    ReasoningEnd,
    ReasoningStart,
    Source,
    TextDelta,
    TextEnd,
    TextStart,
    ToolCall,
    ToolInputDelta,
    ToolInputStart,
    Usage,
)
from backend.messages import (
    AssistantMessage,
    FileContent,
    Message,
    ReasoningContent,
    TextContent,
    ToolCallContent,
    ToolDefinition,
    ToolMessage,
    ToolResultContent,
    UserMessage,
)
from backend.providers.base import ModelCall, ProviderConfig, ThinkingSettings
from backend.providers.openai_chat import OpenAIChatModel, create, to_openai_chat_params
from tests.providers.openai_support import (
    API_KEY,
    ERROR_EXPECTATIONS,
    cases,
    check_invariants,
    closed_port_url,
    fold,
    meta,
    reasoning_of,
    request_fixture,
    resetting_server,
    text_of,
    tool_results,
)
from tests.providers.stopping import stop_early
from tests.upstream import FakeUpstream, Reply

STREAM_CASES = [case for case in cases("chat_") if meta(case)["expect"].get("finish_reason")]
NUMBERS: dict[str, JsonValue] = {
    "properties": {
        "a": {"description": "first number", "type": "integer"},
        "b": {"description": "second number", "type": "integer"},
    },
    "required": ["a", "b"],
    "type": "object",
}
ADD = ToolDefinition("add", "Add two numbers", NUMBERS)
MULTIPLY = ToolDefinition("multiply", "Multiply two numbers", NUMBERS)
WEATHER = ToolDefinition(
    "get_weather", "Weather for a city", {"type": "object", "properties": {"city": {"type": "string"}}}
)


def _model(base_url: str, api_key: str | None = API_KEY) -> OpenAIChatModel:
    model = create(
        ProviderConfig(provider="openai-chat", credentials={"api_key": api_key} if api_key else {}, base_url=base_url)
    )
    assert isinstance(model, OpenAIChatModel)
    return model


def _call(*messages: Message, **overrides: Any) -> ModelCall:
    fields: dict[str, Any] = {"model": "gpt-4o-mini", "max_tokens": 4000, "system": "You are a helpful assistant"}
    fields.update(overrides)
    return ModelCall(messages=messages or (UserMessage((TextContent("Say hi in Portuguese"),)),), **fields)


async def _run(
    upstream: FakeUpstream, case: str, call: ModelCall, api_key: str | None = API_KEY
) -> list[ProviderEvent]:
    model = _model(upstream.base_url("openai", case) + "/v1", api_key)
    try:
        return [event async for event in model.stream(call)]
    finally:
        await model.aclose()


def _chunks(*chunks: dict[str, Any], done: bool = True) -> Reply:
    body = "".join(f"data: {json.dumps(chunk)}\n\n" for chunk in chunks) + ("data: [DONE]\n\n" if done else "")
    return Reply.sse(body)


def _delta(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "m",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    }


# ---------------------------------------------------------------------------------------------
# Every stream transcript
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", STREAM_CASES)
async def test_every_transcript_translates_as_expected(upstream: FakeUpstream, case: str) -> None:
    expect = meta(case)["expect"]
    events = await _run(upstream, case, _call())

    check_invariants(events)
    assert text_of(events) == expect["content"]
    assert reasoning_of(events) == expect.get("reasoning_content", "") + expect.get("reasoning", "")
    calls = [
        {"id": e.tool_call_id, "name": e.tool_name, "arguments": e.input_json}
        for e in events
        if isinstance(e, ToolCall)
    ]
    assert calls == [{key: call[key] for key in ("id", "name", "arguments")} for call in expect.get("tool_calls", [])]
    finish = events[-1]
    assert isinstance(finish, Finish)
    assert finish.raw_reason == expect["finish_reason"]
    usage = expect["usage"]
    prompt_details = usage.get("prompt_tokens_details")
    completion_details = usage.get("completion_tokens_details")
    assert finish.usage == Usage(
        input_tokens=usage["prompt_tokens"],
        output_tokens=usage["completion_tokens"],
        cache_read_tokens=prompt_details["cached_tokens"] if prompt_details else None,
        cache_write_tokens=0 if prompt_details else None,
        reasoning_tokens=completion_details["reasoning_tokens"] if completion_details else None,
    )

    request = upstream.requests[0]
    assert request.path == f"/openai/{case}/v1/chat/completions"
    assert request.headers["Authorization"] == f"Bearer {API_KEY}"
    assert request.headers["x-stainless-retry-count"] == "0"
    assert request.headers["Content-Type"] == "application/json"  # our orjson body (shared.json_body)
    assert len(upstream.requests) == 1


async def test_text_request_is_the_recorded_one(upstream: FakeUpstream) -> None:
    events = await _run(upstream, "chat_text_basic", _call())
    assert events == [
        TextStart("text-1"),
        TextDelta("text-1", "Olá"),
        TextDelta("text-1", "!"),
        TextEnd("text-1"),
        Finish(
            reason="stop",
            raw_reason="stop",
            usage=Usage(
                input_tokens=20, output_tokens=2, cache_read_tokens=0, cache_write_tokens=0, reasoning_tokens=0
            ),
        ),
    ]
    assert upstream.requests[0].json() == request_fixture("chat_text_basic")


async def test_cached_usage(upstream: FakeUpstream) -> None:
    finish = (await _run(upstream, "chat_text_cached_usage", _call()))[-1]
    assert isinstance(finish, Finish)
    assert finish.usage == Usage(
        input_tokens=2006, output_tokens=2, cache_read_tokens=1920, cache_write_tokens=0, reasoning_tokens=0
    )


async def test_parallel_tool_calls_and_the_recorded_followup(upstream: FakeUpstream) -> None:
    recorded = request_fixture("chat_parallel_tool_calls")
    question = UserMessage((TextContent(recorded["messages"][1]["content"]),))
    call = _call(question, model="gpt-4o", system=recorded["messages"][0]["content"], tools=(ADD, MULTIPLY))
    turn_one = await _run(upstream, "chat_parallel_tool_calls", call)

    tool_events = [e for e in turn_one if isinstance(e, ToolInputStart | ToolInputDelta | ToolCall)]
    assert [type(e) for e in tool_events] == [ToolInputStart] + [ToolInputDelta] * 4 + [ToolInputStart] + [
        ToolInputDelta
    ] * 4 + [ToolCall, ToolCall]
    assert isinstance(turn_one[-1], Finish) and turn_one[-1].reason == "tool-calls"
    sent = upstream.requests[0].json()
    assert sent["tools"] == [
        {"type": "function", "function": {k: v for k, v in tool["function"].items() if k != "strict"}}
        for tool in recorded["tools"]
    ]
    assert sent["messages"] == recorded["messages"]

    assistant = fold(turn_one)
    results = tool_results(assistant, {"add": 5, "multiply": 6})
    # The fake upstream serves chat_parallel_tool_calls_followup once tool results are sent.
    turn_two = await _run(
        upstream,
        "chat_parallel_tool_calls",
        _call(
            question,
            assistant,
            results,
            **{"model": "gpt-4o", "system": recorded["messages"][0]["content"], "tools": (ADD, MULTIPLY)},
        ),
    )
    assert text_of(turn_two) == meta("chat_parallel_tool_calls_followup")["expect"]["content"]

    sent_messages = upstream.requests[1].json()["messages"]
    expected_messages = request_fixture("chat_parallel_tool_calls_followup")["messages"]
    for message in (sent_messages[2], expected_messages[2]):  # compare arguments as JSON, not text
        for tool_call in message["tool_calls"]:
            tool_call["function"]["arguments"] = json.loads(tool_call["function"]["arguments"])
    # The one difference from the recording: `content` is always present (strict chat templates
    # read it on every message; tests/compat runs this history against llama.cpp).
    assert sent_messages[2].pop("content") == "" and "content" not in expected_messages[2]
    assert sent_messages == expected_messages


async def test_reasoning_content_from_llama_cpp(upstream: FakeUpstream) -> None:
    events = await _run(upstream, "chat_compat_reasoning_content", _call())
    assert [type(e) for e in events if not isinstance(e, TextDelta | ReasoningDelta)] == [
        ReasoningStart,
        ReasoningEnd,
        TextStart,
        TextEnd,
        Finish,
    ]
    assert events[0] == ReasoningStart("reasoning-1")


async def test_ollama_reasoning_and_whole_call_in_one_delta(upstream: FakeUpstream) -> None:
    case = "composed_chat_ollama_reasoning_tool_call"
    call = _call(tools=(WEATHER,), model="qwen3:8b", thinking=ThinkingSettings(enabled=True, effort="low"))
    events = await _run(upstream, case, call, api_key=None)
    assert [e for e in events if isinstance(e, ToolInputStart | ToolInputDelta | ToolCall)] == [
        ToolInputStart("call_8kq2m1zx", "get_weather"),
        ToolInputDelta("call_8kq2m1zx", '{"city":"Paris"}'),
        ToolCall("call_8kq2m1zx", "get_weather", '{"city":"Paris"}'),
    ]
    assert reasoning_of(events) == meta(case)["expect"]["reasoning"]
    request = upstream.requests[0]
    assert request.json()["reasoning_effort"] == "low"
    # No key configured (Ollama): the SDK still gets a placeholder, never a real secret.
    assert request.headers["Authorization"] == "Bearer not-needed"


async def test_perplexity_citations_become_deduplicated_sources(upstream: FakeUpstream) -> None:
    events = await _run(upstream, "composed_chat_perplexity_citations", _call(model="sonar"))
    assert [e for e in events if isinstance(e, Source)] == [
        Source("source-1", "https://en.wikipedia.org/wiki/Lisbon", "Lisbon - Wikipedia"),
        Source("source-2", "https://www.visitlisboa.com/en", "Visit Lisboa"),
    ]
    assert isinstance(events[-1], Finish) and events[-1].reason == "stop"


async def test_openrouter_reasoning_details_round_trip(upstream: FakeUpstream) -> None:
    case = "composed_chat_openrouter_reasoning_tool_call"
    expect = meta(case)["expect"]
    call = _call(tools=(WEATHER,), model="anthropic/claude-sonnet-4")
    events = await _run(upstream, case, call)

    ends = [e for e in events if isinstance(e, ReasoningEnd)]
    assert ends == [
        ReasoningEnd("reasoning-1", {"openaiCompatible": {"reasoningDetails": expect["reasoning_details"]}})
    ]
    assert [e for e in events if isinstance(e, Finish)] == [events[-1]]  # finish_reason was repeated

    assistant = fold(events)
    results = tool_results(assistant, {"get_weather": {"celsius": 18}})
    upstream.enqueue(Reply.from_case("openai", "chat_text_basic"))
    await _run(upstream, "unused", _call(UserMessage((TextContent("Weather in Paris?"),)), assistant, results))
    messages = upstream.requests[1].json()["messages"]
    assert messages[2:] == [
        {
            "role": "assistant",
            "content": "Let me check.",
            "tool_calls": [
                {
                    "id": "toolu_01Xb3Wq",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                }
            ],
            "reasoning_details": expect["reasoning_details"],
        },
        {"role": "tool", "tool_call_id": "toolu_01Xb3Wq", "content": '{"celsius": 18}'},
    ]


async def test_tool_call_without_id_gets_one_and_name_may_come_late(upstream: FakeUpstream) -> None:
    upstream.enqueue(
        _chunks(
            _delta({"tool_calls": [{"index": 0, "function": {"arguments": '{"ci'}}]}),
            _delta({"tool_calls": [{"index": 0, "function": {"name": "get_weather", "arguments": 'ty":"Rome"}'}}]}),
            _delta({}, "tool_calls"),
        )
    )
    events = await _run(upstream, "unused", _call(tools=(WEATHER,)))
    start, delta, tool_call, finish = events
    assert isinstance(start, ToolInputStart) and start.tool_call_id.startswith("call_")
    assert delta == ToolInputDelta(start.tool_call_id, '{"city":"Rome"}')
    assert tool_call == ToolCall(start.tool_call_id, "get_weather", '{"city":"Rome"}')
    assert isinstance(finish, Finish) and finish.usage == Usage()


async def test_gemini_extra_content_is_kept_and_sent_back(upstream: FakeUpstream) -> None:
    extra: JsonValue = {"google": {"thought_signature": "c2lnbmF0dXJl"}}
    upstream.enqueue(
        _chunks(
            _delta(
                {
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": "call_g1",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": "{}"},
                            "extra_content": extra,
                        }
                    ]
                }
            ),
            _delta({}, "tool_calls"),
        )
    )
    events = await _run(upstream, "unused", _call(tools=(WEATHER,)))
    assert ToolCall("call_g1", "get_weather", "{}", {"openaiCompatible": {"extraContent": extra}}) in events
    params = to_openai_chat_params(_call(UserMessage((TextContent("hi"),)), fold(events)))
    assert cast(dict[str, Any], list(params["messages"])[2])["tool_calls"][0]["extra_content"] == extra


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", sorted(ERROR_EXPECTATIONS))
async def test_http_errors_are_classified(upstream: FakeUpstream, case: str) -> None:
    category, status, retry_after = ERROR_EXPECTATIONS[case]
    with pytest.raises(ProviderError) as caught:
        await _run(upstream, case, _call())
    error = caught.value
    assert (error.provider, error.category, error.status, error.retry_after_seconds) == (
        "openai-chat",
        category,
        status,
        retry_after,
    )
    assert API_KEY not in str(error)
    assert len(upstream.requests) == 1


@pytest.mark.parametrize(
    ("status", "error", "headers", "category", "retry_after"),
    [
        (400, {"code": "context_length_exceeded", "message": "too many tokens"}, {}, "context_length", None),
        (
            400,
            {"code": None, "message": "This model's maximum context length is 128000 tokens."},
            {},
            "context_length",
            None,
        ),
        (400, {"code": "content_policy_violation", "message": "blocked"}, {}, "content_filter", None),
        (404, {"code": "model_not_found", "message": "The model does not exist"}, {}, "bad_request", None),
        (403, {"code": None, "message": "Project does not have access"}, {}, "auth", None),
        (408, {"message": "timeout"}, {}, "network", None),
        (500, {"type": "server_error", "message": "oops"}, {"retry-after": "3"}, "upstream", 3.0),
        (529, {"message": "busy"}, {}, "overloaded", None),
        (429, {"code": "rate_limit_exceeded", "message": "slow down"}, {"retry-after-ms": "1500"}, "rate_limited", 1.5),
    ],
)
async def test_http_error_classification_by_code_and_status(
    upstream: FakeUpstream,
    status: int,
    error: dict[str, Any],
    headers: dict[str, str],
    category: str,
    retry_after: float | None,
) -> None:
    body = json.dumps({"error": error}).encode()
    upstream.enqueue(Reply(status=status, headers={"content-type": "application/json", **headers}, body=body))
    with pytest.raises(ProviderError) as caught:
        await _run(upstream, "unused", _call())
    assert (caught.value.category, caught.value.status, caught.value.retry_after_seconds) == (
        category,
        status,
        retry_after,
    )
    assert caught.value.detail == error["message"]


async def test_midstream_error_chunk_raises_after_the_text(upstream: FakeUpstream) -> None:
    model = _model(upstream.base_url("openai", "chat_midstream_error") + "/v1")
    received: list[ProviderEvent] = []
    with pytest.raises(ProviderError) as caught:
        async for event in model.stream(_call()):
            received.append(event)
    await model.aclose()
    assert received == [TextStart("text-1"), TextDelta("text-1", "Olá")]
    assert caught.value.category == "upstream"
    assert caught.value.detail == meta("chat_midstream_error")["expect"]["stream_error"]["message"]


@pytest.mark.parametrize(
    ("error", "category", "status"),
    [
        ({"code": 502, "message": "Provider returned error"}, "upstream", 502),  # OpenRouter
        ({"code": 429, "message": "Rate limit exceeded"}, "rate_limited", 429),
        ({"code": "server_is_overloaded", "type": "service_unavailable_error", "message": "busy"}, "overloaded", None),
        (
            {"code": "context_length_exceeded", "type": "invalid_request_error", "message": "too long"},
            "context_length",
            None,
        ),
        ({"message": "This model's maximum context length is 8192 tokens"}, "context_length", None),
        ({"code": "content_filter", "message": "filtered"}, "content_filter", None),
    ],
)
async def test_midstream_error_codes(
    upstream: FakeUpstream, error: dict[str, Any], category: str, status: int | None
) -> None:
    upstream.enqueue(_chunks(_delta({"content": "Hi"}), {"error": error}, done=False))
    with pytest.raises(ProviderError) as caught:
        await _run(upstream, "unused", _call())
    assert (caught.value.category, caught.value.status) == (category, status)


async def test_stream_without_finish_reason_raises(upstream: FakeUpstream) -> None:
    upstream.enqueue(_chunks(_delta({"content": "Hi"})))
    with pytest.raises(ProviderError) as caught:
        await _run(upstream, "unused", _call())
    assert caught.value.category == "upstream"


async def test_connection_reset_mid_stream_is_a_network_error_after_the_text() -> None:
    first = b'data: {"id":"x","object":"chat.completion.chunk","created":1,"model":"m",' + (
        b'"choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}\n\n'
    )
    received: list[ProviderEvent] = []
    async with resetting_server(first) as base_url:
        model = _model(base_url)
        with pytest.raises(ProviderError) as caught:
            async for event in model.stream(_call()):
                received.append(event)
        await model.aclose()
    assert caught.value.category == "network"
    assert received == [TextStart("text-1"), TextDelta("text-1", "Hi")]


async def test_malformed_data_line_is_an_upstream_error(upstream: FakeUpstream) -> None:
    upstream.enqueue(Reply.sse("data: {not json\n\n"))
    with pytest.raises(ProviderError) as caught:
        await _run(upstream, "unused", _call())
    assert caught.value.category == "upstream"


async def test_unreachable_server_is_a_network_error() -> None:
    model = _model(closed_port_url())
    with pytest.raises(ProviderError) as caught:
        async for _ in model.stream(_call()):
            pass
    await model.aclose()
    assert caught.value.category == "network"


# ---------------------------------------------------------------------------------------------
# Cancellation
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["aclose", "cancel"])
async def test_stopping_early_closes_the_upstream_response(upstream: FakeUpstream, how: str) -> None:
    release = asyncio.Event()
    upstream.enqueue(Reply.from_case("openai", "chat_text_basic", hold_after_events=2, release=release))
    model = _model(upstream.url + "/v1")
    stream = cast(AsyncGenerator[ProviderEvent, None], model.stream(_call()))
    received = await stop_early(stream, how)
    await upstream.round_trip()
    assert (upstream.open_streams, upstream.disconnects) == (1, 0)
    release.set()
    await upstream.round_trip()
    assert (upstream.open_streams, upstream.disconnects) == (0, 1)
    assert received == [TextStart("text-1"), TextDelta("text-1", "Olá")]
    await model.aclose()


# ---------------------------------------------------------------------------------------------
# Request building (pure)
# ---------------------------------------------------------------------------------------------


def test_foreign_reasoning_is_dropped() -> None:
    turn = AssistantMessage(
        (
            ReasoningContent("thinking", {"anthropic": {"signature": "sig"}}),
            ReasoningContent("summary", {"openai": {"itemId": "rs_1", "reasoningEncryptedContent": "gAAA"}}),
            TextContent("Olá!"),
        )
    )
    params = to_openai_chat_params(_call(UserMessage((TextContent("hi"),)), turn))
    assert list(params["messages"])[2] == {"role": "assistant", "content": "Olá!"}


def test_images_and_unsupported_files() -> None:
    user = UserMessage(
        (TextContent("What is this?"), FileContent("image", data=b"\xff\xd8\xff\xe0", part_path="messages[0].parts[1]"))
    )
    params = to_openai_chat_params(_call(user))
    assert list(params["messages"])[1] == {
        "role": "user",
        "content": [
            {"type": "text", "text": "What is this?"},
            {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/4A=="}},
        ],
    }
    pdf = UserMessage((FileContent("application/pdf", data=b"%PDF", part_path="messages[4].parts[0]"),))
    with pytest.raises(ProviderError) as caught:
        to_openai_chat_params(_call(pdf))
    assert caught.value.code == "unsupported_file" and "messages[4].parts[0]" in caught.value.public_message


def test_tool_results_errors_and_denials() -> None:
    turn = AssistantMessage((ToolCallContent("c1", "add", {"a": 1}), ToolCallContent("c2", "add", {"a": 2})))
    results = ToolMessage(
        (
            ToolResultContent("c1", "add", "division by zero", "error"),
            ToolResultContent("c2", "add", "not now", "denied"),
        )
    )
    messages = list(to_openai_chat_params(_call(UserMessage((TextContent("hi"),)), turn, results))["messages"])
    assert messages[3:] == [
        {"role": "tool", "tool_call_id": "c1", "content": "Tool call failed: division by zero"},
        {"role": "tool", "tool_call_id": "c2", "content": "Tool call denied by the user: not now"},
    ]


def test_provider_options() -> None:
    call = _call(
        temperature=0.5,
        top_p=0.8,
        thinking=ThinkingSettings(enabled=True, effort="high"),
        provider_options={"openai-chat": {"max_tokens_field": "max_completion_tokens", "include_usage": False}},
    )
    params = to_openai_chat_params(call)
    assert params["max_completion_tokens"] == 4000 and "max_tokens" not in params
    assert "stream_options" not in params
    assert (params["temperature"], params["top_p"], params["reasoning_effort"]) == (0.5, 0.8, "high")
    assert "reasoning_effort" not in to_openai_chat_params(
        _call(thinking=ThinkingSettings(enabled=False, effort="high"))
    )


def test_fixture_folder_is_complete() -> None:
    assert len(STREAM_CASES) == 8
    assert len(cases("error_")) == len(ERROR_EXPECTATIONS)
