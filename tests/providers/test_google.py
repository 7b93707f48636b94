"""The Gemini provider against the real google-genai SDK (aiohttp transport) and recorded wire bodies.

Every transcript in tests/fixtures/google is replayed byte for byte by tests/upstream.py; we assert
the provider events we translate AND the request we sent. The SDK sends some nested keys in
snake_case and re-encodes thought signatures as URL-safe base64 (README §3.2, §3.3), so recorded
requests are compared after normalising key spelling and decoding signatures to bytes.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from google.genai.types import ThinkingLevel

from backend.errors import ProviderError
from backend.events import (
    Finish,
    ProviderEvent,
    ReasoningDelta,
    ReasoningEnd,
    ReasoningStart,
    TextDelta,
    TextEnd,
    TextStart,
    ToolCall,
    ToolInputStart,
    Usage,
)
from backend.messages import (
    AssistantContent,
    AssistantMessage,
    FileContent,
    Message,
    ReasoningContent,
    SystemMessage,
    TextContent,
    ToolCallContent,
    ToolDefinition,
    ToolMessage,
    ToolResultContent,
    UserMessage,
)
from backend.providers.base import ModelCall, ProviderConfig, ThinkingSettings
from backend.providers.google import GoogleModel, create, to_google_config, to_google_contents
from tests.upstream import FIXTURES, FakeUpstream, Reply

FOLDER = FIXTURES / "google"
API_KEY = "test-gemini-key-do-not-leak"
SYSTEM = "You are a helpful assistant"


def _meta(case: str) -> dict[str, Any]:
    meta: dict[str, Any] = json.loads((FOLDER / f"{case}.meta.json").read_text())
    return meta


def _recorded_request(case: str) -> dict[str, Any]:
    request: dict[str, Any] = json.loads((FOLDER / f"{case}.request.json").read_text())
    return request


def _model(base_url: str) -> GoogleModel:
    model = create(ProviderConfig(provider="google", credentials={"api_key": API_KEY}, base_url=base_url))
    assert isinstance(model, GoogleModel)
    return model


@pytest.fixture
async def model(upstream: FakeUpstream) -> AsyncIterator[GoogleModel]:
    """A model whose calls are answered from the queue (``upstream.enqueue``)."""
    chat_model = _model(upstream.url)
    yield chat_model
    await chat_model.aclose()


def _user(text: str) -> UserMessage:
    return UserMessage((TextContent(text),))


def _call(*messages: Message, **overrides: Any) -> ModelCall:
    values: dict[str, Any] = {"model": "gemini-2.5-flash", "system": SYSTEM, "max_tokens": 4000}
    values.update(overrides)
    return ModelCall(messages=messages, **values)


async def _collect(model: GoogleModel, call: ModelCall) -> list[ProviderEvent]:
    return [event async for event in model.stream(call)]


async def _replay(upstream: FakeUpstream, case: str, call: ModelCall) -> list[ProviderEvent]:
    model = _model(upstream.base_url("google", case))
    try:
        return await _collect(model, call)
    finally:
        await model.aclose()


def _camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(word.title() for word in rest)


def _normalise(value: Any) -> Any:
    """camelCase keys and decoded signature bytes, so SDK and recorded spellings compare equal."""
    if isinstance(value, dict):
        normalised = {}
        for key, item in value.items():
            name = _camel(key)
            normalised[name] = (
                base64.urlsafe_b64decode(_urlsafe(item)) if name == "thoughtSignature" else _normalise(item)
            )
        return normalised
    if isinstance(value, list):
        return [_normalise(item) for item in value]
    return value


def _urlsafe(signature: str) -> str:
    return signature.replace("+", "-").replace("/", "_")


def _text(events: list[ProviderEvent]) -> str:
    return "".join(event.delta for event in events if isinstance(event, TextDelta))


def _signature(case: str, index: int = 0) -> str:
    value: str = _meta(case)["expect"]["thought_signatures"][index]["value"]
    return value


WEATHER = ToolDefinition(
    "weather",
    "Get weather information for a location",
    {
        "type": "object",
        "properties": {"location": {"type": "string", "description": "the city"}},
        "required": ["location"],
    },
)
ARITHMETIC = tuple(
    ToolDefinition(
        name,
        f"{name.title()} two numbers",
        {
            "type": "object",
            "properties": {
                "a": {"type": "integer", "description": "first number"},
                "b": {"type": "integer", "description": "second number"},
            },
            "required": ["a", "b"],
        },
    )
    for name in ("add", "multiply")
)


# ---------------------------------------------------------------------------------------------
# Recorded transcripts
# ---------------------------------------------------------------------------------------------


async def test_text_basic_events_and_request(upstream: FakeUpstream) -> None:
    events = await _replay(upstream, "text_basic", _call(_user("Say hi in Portuguese")))

    assert events == [
        TextStart("0"),
        TextDelta("0", "Olá!"),
        TextEnd("0"),
        Finish("stop", "STOP", Usage(input_tokens=11, output_tokens=2 + 21, cache_read_tokens=0, reasoning_tokens=21)),
    ]
    [request] = upstream.requests
    assert request.path == "/google/text_basic/v1beta/models/gemini-2.5-flash:streamGenerateContent"
    assert request.query == "alt=sse"
    assert request.headers["x-goog-api-key"] == API_KEY
    body = _normalise(request.json())
    recorded = _recorded_request("text_basic")
    assert body["contents"] == recorded["contents"]
    assert body["systemInstruction"] == recorded["systemInstruction"]
    assert body["generationConfig"] == recorded["generationConfig"] == {"maxOutputTokens": 4000}
    assert "tools" not in body


async def test_cached_usage_is_part_of_the_prompt(upstream: FakeUpstream) -> None:
    events = await _replay(upstream, "text_cached_usage", _call(_user("Say hi in Portuguese")))

    expect = _meta("text_cached_usage")["expect"]
    assert _text(events) == expect["text"]
    assert [type(event) for event in events] == [TextStart, TextDelta, TextDelta, TextDelta, TextEnd, Finish]
    assert events[-1] == Finish(
        "stop",
        "STOP",
        Usage(input_tokens=2061, output_tokens=49 + 603, cache_read_tokens=2048, reasoning_tokens=603),
    )


async def test_thinking_text_keeps_the_signature_of_the_empty_final_part(upstream: FakeUpstream) -> None:
    call = _call(_user("Write a haiku about the sea."), system=None, thinking=ThinkingSettings(True, effort="high"))
    events = await _replay(upstream, "thinking_text", call)

    expect = _meta("thinking_text")["expect"]
    signed = {"google": {"thoughtSignature": _signature("thinking_text")}}
    assert events == [
        ReasoningStart("0"),
        ReasoningDelta("0", expect["thought_text"]),
        ReasoningEnd("0"),
        TextStart("1"),
        TextDelta("1", "Waves fold into foam,\nsalt wind carries gull voices"),
        TextDelta("1", " —\nthe tide keeps its time."),
        TextDelta("1", "", signed),  # the signature-only part lands on the stored text part
        TextEnd("1", signed),
        Finish(
            "stop", "STOP", Usage(input_tokens=9, output_tokens=19 + 121, cache_read_tokens=0, reasoning_tokens=121)
        ),
    ]
    body = _normalise(upstream.requests[0].json())
    recorded = _recorded_request("thinking_text")
    assert body["contents"] == recorded["contents"]
    assert body["generationConfig"]["thinkingConfig"] == recorded["generationConfig"]["thinkingConfig"]
    assert "systemInstruction" not in body


async def test_thinking_function_call_then_round_trip(upstream: FakeUpstream) -> None:
    question = _user("What's the weather in Florence, Italy?")
    call = _call(question, tools=(WEATHER,), thinking=ThinkingSettings(True, budget_tokens=128))
    events = await _replay(upstream, "thinking_function_call", call)

    expect = _meta("thinking_function_call")["expect"]
    signed = {"google": {"thoughtSignature": _signature("thinking_function_call")}}
    start, tool_call = events[3], events[4]
    assert isinstance(start, ToolInputStart) and isinstance(tool_call, ToolCall)
    tool_call_id = tool_call.tool_call_id
    assert re.fullmatch(r"call_[0-9a-f]{24}", tool_call_id)  # Gemini 2.5 sends no id
    assert events == [
        ReasoningStart("0"),
        ReasoningDelta("0", expect["thought_text"]),
        ReasoningEnd("0"),
        ToolInputStart(tool_call_id, "weather", signed),
        ToolCall(tool_call_id, "weather", '{"location": "Florence, Italy"}', signed),
        Finish(
            "tool-calls",
            "STOP",
            Usage(input_tokens=54, output_tokens=14 + 62, cache_read_tokens=0, reasoning_tokens=62),
        ),
    ]
    first = _normalise(upstream.requests[0].json())
    assert first["generationConfig"]["thinkingConfig"] == {"includeThoughts": True, "thinkingBudget": 128}
    [declaration] = first["tools"][0]["functionDeclarations"]
    assert declaration == {
        "name": "weather",
        "description": WEATHER.description,
        "parametersJsonSchema": WEATHER.input_schema,
    }

    # Step 2: the assistant turn as the client stores it (the unsigned summary has no google
    # metadata and is dropped), then the tool result. The fixture server answers the follow-up.
    history = (
        question,
        AssistantMessage(
            (
                ReasoningContent(expect["thought_text"]),
                ToolCallContent(tool_call_id, "weather", {"location": "Florence, Italy"}, signed),
            )
        ),
        ToolMessage((ToolResultContent(tool_call_id, "weather", "40 C"),)),
    )
    followup = await _replay(upstream, "thinking_function_call", _call(*history, tools=(WEATHER,)))

    assert _text(followup) == "The weather in Florence, Italy is 40 C."
    assert followup[-1] == Finish(
        "stop", "STOP", Usage(input_tokens=146, output_tokens=12, cache_read_tokens=0, reasoning_tokens=0)
    )
    sent = _normalise(upstream.requests[1].json())["contents"]
    recorded = _normalise(_recorded_request("thinking_function_call_followup"))["contents"]
    # Recorded from another client: it numbered the call "1" and wrapped the result as
    # {"result": ...}; we send our id and the {"output": ...} key FunctionResponse documents.
    recorded[1]["parts"][0]["functionCall"]["id"] = tool_call_id
    recorded[2]["parts"][0]["functionResponse"].update(id=tool_call_id, response={"output": "40 C"})
    assert sent == recorded


async def test_parallel_function_calls_then_round_trip(upstream: FakeUpstream) -> None:
    question = _user("Add and multiply the number 2 and 3")
    system = "You are a helpful assistant. Always use both add and multiply at the same time."
    call = _call(question, tools=ARITHMETIC, system=system, model="gemini-3-pro-preview")
    events = await _replay(upstream, "parallel_function_calls", call)

    signed = {"google": {"thoughtSignature": _signature("parallel_function_calls")}}
    assert events == [
        ToolInputStart("8hd01vsf", "add", signed),
        ToolCall("8hd01vsf", "add", '{"a": 2, "b": 3}', signed),
        ToolInputStart("k0srpqrc", "multiply"),  # only the first parallel call is signed
        ToolCall("k0srpqrc", "multiply", '{"b": 3, "a": 2}'),
        # the final empty, unsigned text part opens no text block
        Finish(
            "tool-calls",
            "STOP",
            Usage(input_tokens=157, output_tokens=32 + 438, cache_read_tokens=0, reasoning_tokens=438),
        ),
    ]

    history = (
        question,
        AssistantMessage(
            (
                ToolCallContent("8hd01vsf", "add", {"a": 2, "b": 3}, signed),
                ToolCallContent("k0srpqrc", "multiply", {"b": 3, "a": 2}),
            )
        ),
        ToolMessage((ToolResultContent("8hd01vsf", "add", "5"), ToolResultContent("k0srpqrc", "multiply", "6"))),
    )
    followup = await _replay(upstream, "parallel_function_calls", _call(*history, tools=ARITHMETIC, system=system))

    answer_signature = {"google": {"thoughtSignature": _signature("parallel_function_calls_followup")}}
    assert _text(followup) == "The sum of 2 and 3 is 5, and their product is 6."
    assert followup[-3:-1] == [TextDelta("0", "", answer_signature), TextEnd("0", answer_signature)]
    assert followup[-1] == Finish(
        "stop", "STOP", Usage(input_tokens=646, output_tokens=19 + 20, cache_read_tokens=0, reasoning_tokens=20)
    )
    sent = _normalise(upstream.requests[1].json())
    recorded = _normalise(_recorded_request("parallel_function_calls_followup"))
    for part, result in zip(recorded["contents"][2]["parts"], ("5", "6"), strict=True):
        part["functionResponse"]["response"] = {"output": result}  # recorded client used "result"
    assert sent["contents"] == recorded["contents"]
    assert "thoughtSignature" not in sent["contents"][1]["parts"][1]
    assert sent["systemInstruction"] == recorded["systemInstruction"]


async def test_midstream_error_raises_after_the_text_that_came_before(upstream: FakeUpstream) -> None:
    model = _model(upstream.base_url("google", "midstream_error"))
    events: list[ProviderEvent] = []
    with pytest.raises(ProviderError) as caught:
        async for event in model.stream(_call(_user("hi"))):
            events.append(event)
    await model.aclose()

    assert events == [TextStart("0"), TextDelta("0", _meta("midstream_error")["expect"]["text"])]
    assert caught.value.category == "overloaded"
    assert caught.value.status == 503
    assert "overloaded" in caught.value.detail


@pytest.mark.parametrize(
    ("case", "category", "retry_after"),
    [
        ("error_400_api_key_invalid", "auth", None),
        ("error_400_invalid_argument", "bad_request", None),
        ("error_429_resource_exhausted", "rate_limited", 27.0),
        ("error_500_internal", "upstream", None),
        ("error_503_unavailable", "overloaded", None),
    ],
)
async def test_http_errors_are_classified_without_retries(
    upstream: FakeUpstream, case: str, category: str, retry_after: float | None
) -> None:
    with pytest.raises(ProviderError) as caught:
        await _replay(upstream, case, _call(_user("hi")))

    error = caught.value
    assert (error.category, error.status, error.retry_after_seconds) == (category, _meta(case)["status"], retry_after)
    assert error.provider == "google"
    assert API_KEY not in error.public_message
    assert len(upstream.requests) == 1  # the loop owns retries, the SDK makes one attempt


async def test_token_limit_error_is_context_length(upstream: FakeUpstream, model: GoogleModel) -> None:
    message = "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576)."
    body = json.dumps({"error": {"code": 400, "message": message, "status": "INVALID_ARGUMENT"}})
    upstream.enqueue(Reply(400, {"content-type": "application/json; charset=UTF-8"}, body.encode()))

    with pytest.raises(ProviderError) as caught:
        await _collect(model, _call(_user("a very long text")))
    assert (caught.value.category, caught.value.status) == ("context_length", 400)


async def test_key_echoed_by_the_upstream_is_redacted(upstream: FakeUpstream, model: GoogleModel) -> None:
    body = json.dumps({"error": {"code": 403, "message": f"key {API_KEY} is suspended", "status": "PERMISSION_DENIED"}})
    upstream.enqueue(Reply(403, {"content-type": "application/json; charset=UTF-8"}, body.encode()))

    with pytest.raises(ProviderError) as caught:
        await _collect(model, _call(_user("hi")))
    assert caught.value.category == "auth"
    assert API_KEY not in caught.value.public_message


async def test_connection_refused_is_network_and_not_retried() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    model = _model(f"http://127.0.0.1:{port}")
    started = time.monotonic()
    with pytest.raises(ProviderError) as caught:
        await _collect(model, _call(_user("hi")))
    await model.aclose()
    assert caught.value.category == "network"
    # Without retry_options the SDK would sleep 1-10 s and try again on its own.
    assert time.monotonic() - started < 1.0


async def test_stream_without_finish_reason_raises(upstream: FakeUpstream, model: GoogleModel) -> None:
    chunk = {"candidates": [{"content": {"parts": [{"text": "Hal"}], "role": "model"}, "index": 0}]}
    upstream.enqueue(Reply.sse(f"data: {json.dumps(chunk)}\r\n\r\n"))

    events: list[ProviderEvent] = []
    with pytest.raises(ProviderError) as caught:
        async for event in model.stream(_call(_user("hi"))):
            events.append(event)
    assert events == [TextStart("0"), TextDelta("0", "Hal")]
    assert caught.value.retryable


async def test_blocked_prompt_is_a_content_filter_error(upstream: FakeUpstream, model: GoogleModel) -> None:
    chunk = {
        "promptFeedback": {"blockReason": "SAFETY"},
        "usageMetadata": {"promptTokenCount": 8, "totalTokenCount": 8},
    }
    upstream.enqueue(Reply.sse(f"data: {json.dumps(chunk)}\r\n\r\n"))

    with pytest.raises(ProviderError) as caught:
        await _collect(model, _call(_user("something unsafe")))
    assert caught.value.category == "content_filter"
    assert "SAFETY" in caught.value.detail


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("MAX_TOKENS", "length"),
        ("SAFETY", "content-filter"),
        ("MALFORMED_FUNCTION_CALL", "error"),
        ("LANGUAGE", "other"),
    ],
)
async def test_finish_reasons_on_the_wire(upstream: FakeUpstream, model: GoogleModel, raw: str, reason: str) -> None:
    chunk = {
        "candidates": [{"content": {"parts": [{"text": "Hi"}], "role": "model"}, "finishReason": raw, "index": 0}],
        "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 1, "totalTokenCount": 4},
    }
    upstream.enqueue(Reply.sse(f"data: {json.dumps(chunk)}\r\n\r\n"))

    events = await _collect(model, _call(_user("hi")))
    assert events[-1] == Finish(reason, raw, Usage(3, 1, cache_read_tokens=0, reasoning_tokens=0))  # type: ignore[arg-type]


async def test_every_signature_keeps_its_own_stored_part(upstream: FakeUpstream, model: GoogleModel) -> None:
    parts = [
        {"text": "Plan A.", "thought": True, "thoughtSignature": "AAEC"},
        {"text": "First.", "thoughtSignature": "AwQF"},
        {"text": " Second.", "thoughtSignature": "BgcI"},  # a second signature: a new block
        {"text": " Third."},
    ]
    chunks = [{"candidates": [{"content": {"parts": [part], "role": "model"}, "index": 0}]} for part in parts[:-1]] + [
        {"candidates": [{"content": {"parts": [parts[-1]], "role": "model"}, "finishReason": "STOP", "index": 0}]}
    ]
    upstream.enqueue(Reply.sse("".join(f"data: {json.dumps(chunk)}\r\n\r\n" for chunk in chunks)))

    events = await _collect(model, _call(_user("hi")))

    def signed(value: str) -> dict[str, dict[str, Any]]:
        return {"google": {"thoughtSignature": value}}

    assert events[:-1] == [
        ReasoningStart("0"),
        ReasoningDelta("0", "Plan A.", signed("AAEC")),
        ReasoningEnd("0", signed("AAEC")),
        TextStart("1"),
        TextDelta("1", "First.", signed("AwQF")),
        TextEnd("1", signed("AwQF")),
        TextStart("2"),
        TextDelta("2", " Second.", signed("BgcI")),
        TextDelta("2", " Third."),
        TextEnd("2", signed("BgcI")),
    ]
    assert events[-1] == Finish("stop", "STOP", Usage())  # this composed stream reports no usage


async def test_unparsable_chunk_is_an_upstream_error(upstream: FakeUpstream, model: GoogleModel) -> None:
    # google-genai rejects the whole chunk when a thoughtSignature is not base64 (README §0 rule 6).
    chunk = {"candidates": [{"content": {"parts": [{"text": "x", "thoughtSignature": "not base64!"}]}, "index": 0}]}
    upstream.enqueue(Reply.sse(f"data: {json.dumps(chunk)}\r\n\r\n"))

    with pytest.raises(ProviderError) as caught:
        await _collect(model, _call(_user("hi")))
    assert caught.value.category == "upstream"


async def test_api_version_and_headers_options(upstream: FakeUpstream) -> None:
    config = ProviderConfig(
        "google", {"api_key": API_KEY}, base_url=upstream.base_url("google", "text_basic"), headers={"x-team": "a"}
    )
    model = create(config)
    call = _call(_user("hi"), provider_options={"google": {"api_version": "v1"}}, temperature=0.5, top_p=0.9)
    events = [event async for event in model.stream(call)]
    await model.aclose()

    assert isinstance(events[-1], Finish)
    [request] = upstream.requests
    assert request.path.endswith("/v1/models/gemini-2.5-flash:streamGenerateContent")
    assert request.headers["x-team"] == "a"
    assert _normalise(request.json())["generationConfig"] == {"maxOutputTokens": 4000, "temperature": 0.5, "topP": 0.9}


# ---------------------------------------------------------------------------------------------
# Cancellation: the upstream connection must close (README §3.4b)
# ---------------------------------------------------------------------------------------------


async def test_leaving_the_stream_early_closes_the_upstream_connection(
    upstream: FakeUpstream, model: GoogleModel
) -> None:
    release = asyncio.Event()
    upstream.enqueue(Reply.from_case("google", "text_cached_usage", hold_after_events=1, release=release))

    stream = model.stream(_call(_user("hi")))
    assert isinstance(await anext(stream), TextStart)
    await stream.aclose()  # the consumer stops reading between chunks
    await upstream.round_trip()
    assert (upstream.open_streams, upstream.disconnects) == (1, 0)  # still holding the rest
    release.set()  # it writes again and finds the connection closed
    await upstream.round_trip()

    # Without closing the response the server would write the rest into the open socket.
    assert (upstream.open_streams, upstream.disconnects) == (0, 1)


async def test_cancelling_the_task_closes_the_upstream_connection(upstream: FakeUpstream, model: GoogleModel) -> None:
    release = asyncio.Event()
    upstream.enqueue(Reply.from_case("google", "text_cached_usage", hold_after_events=1, release=release))
    first_delta = asyncio.Event()

    async def consume() -> None:
        async for event in model.stream(_call(_user("hi"))):
            if isinstance(event, TextDelta):
                first_delta.set()

    task = asyncio.create_task(consume())
    await first_delta.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await upstream.round_trip()
    assert (upstream.open_streams, upstream.disconnects) == (1, 0)
    release.set()
    await upstream.round_trip()

    assert (upstream.open_streams, upstream.disconnects) == (0, 1)


async def test_cancelling_one_stream_leaves_a_concurrent_one_running(
    upstream: FakeUpstream, model: GoogleModel
) -> None:
    release_first, release_second = asyncio.Event(), asyncio.Event()
    upstream.enqueue(
        Reply.from_case("google", "text_cached_usage", hold_after_events=1, release=release_first),
        Reply.from_case("google", "text_cached_usage", hold_after_events=1, release=release_second),
    )
    first, second = model.stream(_call(_user("one"))), model.stream(_call(_user("two")))
    assert isinstance(await anext(first), TextStart)
    assert isinstance(await anext(second), TextStart)

    await first.aclose()
    await upstream.round_trip()
    release_first.set()
    release_second.set()
    rest = [event async for event in second]
    await upstream.round_trip()

    assert isinstance(rest[-1], Finish) and rest[-1].reason == "stop"
    assert upstream.disconnects == 1


# ---------------------------------------------------------------------------------------------
# Request conversion details (through the wire, as the SDK serialises them)
# ---------------------------------------------------------------------------------------------


async def _sent_contents(upstream: FakeUpstream, *messages: Message, **overrides: Any) -> list[dict[str, Any]]:
    model = _model(upstream.base_url("google", "text_basic"))
    await _collect(model, _call(*messages, **overrides))
    await model.aclose()
    contents: list[dict[str, Any]] = _normalise(upstream.requests[-1].json())["contents"]
    return contents


async def test_foreign_tool_calls_get_the_documented_placeholder_signature(upstream: FakeUpstream) -> None:
    assistant: tuple[AssistantContent, ...] = (
        ReasoningContent("Let me check.", {"anthropic": {"signature": "c2lnbmF0dXJl"}}),
        TextContent("Checking both."),
        ToolCallContent("toolu_01", "weather", {"location": "Rome"}, {"anthropic": {"caller": "direct"}}),
        ToolCallContent("toolu_02", "weather", {"location": "Paris"}),
    )
    results = (
        ToolResultContent("toolu_01", "weather", {"celsius": 21}),
        ToolResultContent("toolu_02", "weather", "timeout", kind="error"),
    )
    contents = await _sent_contents(
        upstream, _user("Weather?"), AssistantMessage(assistant), ToolMessage(results), _user("Thanks")
    )

    placeholder = base64.urlsafe_b64decode("skip_thought_signature_validator")
    assert contents[1] == {
        "role": "model",
        "parts": [
            {"text": "Checking both."},  # the foreign reasoning is dropped
            {
                "functionCall": {"id": "toolu_01", "name": "weather", "args": {"location": "Rome"}},
                "thoughtSignature": placeholder,
            },
            {"functionCall": {"id": "toolu_02", "name": "weather", "args": {"location": "Paris"}}},
        ],
    }
    raw_signature = upstream.requests[-1].json()["contents"][1]["parts"][1]["thoughtSignature"]
    assert raw_signature == "skip_thought_signature_validator"  # byte for byte on the wire
    assert contents[2] == {
        "role": "user",
        "parts": [
            {"functionResponse": {"id": "toolu_01", "name": "weather", "response": {"output": {"celsius": 21}}}},
            {"functionResponse": {"id": "toolu_02", "name": "weather", "response": {"error": "timeout"}}},
        ],
    }
    assert contents[3] == {"role": "user", "parts": [{"text": "Thanks"}]}


async def test_own_reasoning_and_text_signatures_go_back_on_their_parts(upstream: FakeUpstream) -> None:
    reasoning_signature, text_signature = base64.b64encode(b"thought-sig"), base64.b64encode(b"text-sig")
    assistant: tuple[AssistantContent, ...] = (
        ReasoningContent("Thinking...", {"google": {"thoughtSignature": reasoning_signature.decode()}}),
        TextContent("Answer.", {"google": {"thoughtSignature": text_signature.decode()}}),
        TextContent(""),  # nothing to send
    )
    denied = ToolResultContent("call_1", "weather", "too expensive", kind="denied")
    contents = await _sent_contents(
        upstream,
        _user("Q"),
        AssistantMessage(assistant),
        _user("Q2"),
        AssistantMessage(
            (ToolCallContent("call_1", "weather", {"location": "Oslo"}, {"google": {"thoughtSignature": "AAEC"}}),)
        ),
        ToolMessage((denied,)),
    )

    assert contents[1]["parts"] == [
        {"text": "Thinking...", "thought": True, "thoughtSignature": b"thought-sig"},
        {"text": "Answer.", "thoughtSignature": b"text-sig"},
    ]
    assert contents[3]["parts"][0]["thoughtSignature"] == b"\x00\x01\x02"  # own, not the placeholder
    response = contents[4]["parts"][0]["functionResponse"]["response"]
    assert response == {"error": "The user denied this tool call. Reason: too expensive"}


async def test_files_go_inline_or_by_uri(upstream: FakeUpstream) -> None:
    message = UserMessage(
        (
            TextContent("What is in these?"),
            FileContent("image/png", data=b"\x89PNG...", filename="a.png", part_path="messages[0].parts[1]"),
            FileContent("application/pdf", url="https://example.com/paper.pdf", part_path="messages[0].parts[2]"),
            FileContent("text/plain; charset=utf-8", data=b"notes", part_path="messages[0].parts[3]"),
        )
    )
    contents = await _sent_contents(upstream, message)

    assert contents[0]["parts"][1:] == [
        {"inlineData": {"mimeType": "image/png", "data": base64.b64encode(b"\x89PNG...").decode()}},
        {"fileData": {"mimeType": "application/pdf", "fileUri": "https://example.com/paper.pdf"}},
        {"inlineData": {"mimeType": "text/plain", "data": base64.b64encode(b"notes").decode()}},
    ]


@pytest.mark.parametrize(
    "file",
    [
        FileContent("application/zip", data=b"PK", part_path="messages[2].parts[0]"),
        FileContent("image/png", url="ftp://example.com/a.png", part_path="messages[2].parts[0]"),
    ],
)
def test_unsupported_files_name_the_part(file: FileContent) -> None:
    with pytest.raises(ProviderError) as caught:
        to_google_contents([UserMessage((file,))])
    assert (caught.value.category, caught.value.code) == ("bad_request", "unsupported_file")
    assert "messages[2].parts[0]" in caught.value.public_message


# ---------------------------------------------------------------------------------------------
# Config conversion (pure)
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("thinking", "options", "expected"),
    [
        (ThinkingSettings(), {}, None),
        (ThinkingSettings(True), {}, {"include_thoughts": True}),
        (ThinkingSettings(True, budget_tokens=1024), {}, {"include_thoughts": True, "thinking_budget": 1024}),
        (ThinkingSettings(True, effort="max"), {}, {"include_thoughts": True, "thinking_level": ThinkingLevel.XHIGH}),
        # the explicit provider knob wins; the API refuses a budget and a level together
        (
            ThinkingSettings(True, budget_tokens=1024, effort="low"),
            {"thinking_level": "High"},
            {"include_thoughts": True, "thinking_level": ThinkingLevel.HIGH},
        ),
        (
            ThinkingSettings(True, budget_tokens=2048, effort="low"),
            {},
            {"include_thoughts": True, "thinking_budget": 2048},
        ),
    ],
)
def test_thinking_config(thinking: ThinkingSettings, options: dict[str, Any], expected: Any) -> None:
    config = to_google_config(_call(_user("hi"), thinking=thinking, provider_options={"google": options}))
    assert config.get("thinking_config") == expected
    assert config["automatic_function_calling"] == {"disable": True}
    assert config["http_options"] == {"api_version": "v1beta"}


@pytest.mark.parametrize("options", [{"thinking_level": "ultra"}, {"thinking_level": "max"}, {"api_version": 1}])
def test_invalid_options_are_rejected_before_any_request(options: dict[str, Any]) -> None:
    call = _call(_user("hi"), thinking=ThinkingSettings(True), provider_options={"google": options})
    with pytest.raises(ProviderError) as caught:
        to_google_config(call)
    assert caught.value.code == "invalid_option"


def test_system_messages_join_the_system_instruction() -> None:
    call = _call(SystemMessage("Be brief."), _user("hi"), SystemMessage("Answer in French."))
    assert to_google_config(call)["system_instruction"] == f"{SYSTEM}\n\nBe brief.\n\nAnswer in French."
    assert to_google_contents(call.messages) == [{"role": "user", "parts": [{"text": "hi"}]}]
