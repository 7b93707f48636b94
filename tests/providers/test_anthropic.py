"""The Anthropic provider against the real SDK and recorded wire bodies (tests/upstream.py).

Every transcript in tests/fixtures/anthropic is replayed byte for byte; we assert the provider
events we translate AND the request we sent.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from pathlib import Path
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
    ToolOutput,
    Usage,
)
from backend.messages import (
    AssistantContent,
    AssistantMessage,
    Message,
    ProviderToolResultContent,
    ReasoningContent,
    TextContent,
    ToolCallContent,
    ToolDefinition,
    ToolMessage,
    ToolResultContent,
    UserMessage,
)
from backend.providers.anthropic import AnthropicModel, create
from backend.providers.base import ModelCall, ProviderConfig, ThinkingSettings
from backend.upstream_wait import guarded
from tests.providers.stopping import stop_early
from tests.upstream import FIXTURES, FakeUpstream, Reply

FOLDER = FIXTURES / "anthropic"
API_KEY = "sk-ant-api03-test-secret-key-0123456789"


def _meta(case: str) -> dict[str, Any]:
    meta: dict[str, Any] = json.loads((FOLDER / f"{case}.meta.json").read_text())
    return meta


def _cases(predicate: Callable[[dict[str, Any]], bool]) -> list[str]:
    names = sorted(path.name.removesuffix(".meta.json") for path in FOLDER.glob("*.meta.json"))
    return [name for name in names if predicate(_meta(name))]


STREAM_CASES = _cases(lambda meta: meta["status"] == 200 and "stream_error" not in meta["expect"])
ERROR_CASES = _cases(lambda meta: meta["status"] != 200)


@pytest.fixture
async def upstream() -> AsyncIterator[FakeUpstream]:
    async with FakeUpstream() as server:
        yield server


def _model(base_url: str, **config: Any) -> AnthropicModel:
    model = create(ProviderConfig(provider="anthropic", credentials={"api_key": API_KEY}, base_url=base_url, **config))
    assert isinstance(model, AnthropicModel)
    return model


def _call(*messages: Message, **overrides: Any) -> ModelCall:
    # Not the recorded (deprecated) model id: the SDK would warn on every call.
    fields: dict[str, Any] = {"model": "claude-sonnet-4-6", "max_tokens": 4000, **overrides}
    if not messages:
        messages = (UserMessage((TextContent("Say hi in Portuguese"),)),)
    return ModelCall(messages=messages, **fields)


async def _run(base_url: str, call: ModelCall) -> list[ProviderEvent]:
    model = _model(base_url)
    try:
        return [event async for event in model.stream(call)]
    finally:
        await model.aclose()


def _check_invariants(events: list[ProviderEvent]) -> None:
    """The events.py contract: starts before deltas/ends, one ToolCall per tool input, one Finish."""
    open_parts: set[tuple[str, str]] = set()
    open_tools: set[str] = set()
    for event in events[:-1]:
        assert not isinstance(event, Finish)
        match event:
            case TextStart(id=part_id) | ReasoningStart(id=part_id):
                key = (type(event).__name__[:4], part_id)
                assert key not in open_parts
                open_parts.add(key)
            case TextDelta(id=part_id) | ReasoningDelta(id=part_id):
                assert (type(event).__name__[:4], part_id) in open_parts
            case TextEnd(id=part_id) | ReasoningEnd(id=part_id):
                open_parts.remove((type(event).__name__[:4], part_id))
            case ToolInputStart(tool_call_id=call_id):
                assert call_id not in open_tools
                open_tools.add(call_id)
            case ToolInputDelta(tool_call_id=call_id):
                assert call_id in open_tools and event.delta
            case ToolCall(tool_call_id=call_id):
                open_tools.remove(call_id)
    assert isinstance(events[-1], Finish)
    assert not open_parts and not open_tools


def _fold(events: list[ProviderEvent]) -> AssistantMessage:
    """What the client would send back: the assistant turn as provider-neutral content."""
    content: list[AssistantContent] = []
    reasoning: dict[str, tuple[list[str], dict[str, Any]]] = {}
    for event in events:
        match event:
            case TextDelta(delta=delta):
                content.append(TextContent(delta))
            case ReasoningStart(id=part_id, provider_metadata=metadata):
                reasoning[part_id] = ([], dict((metadata or {}).get("anthropic", {})))
            case ReasoningDelta(id=part_id, delta=delta, provider_metadata=metadata):
                reasoning[part_id][0].append(delta)
                reasoning[part_id][1].update((metadata or {}).get("anthropic", {}))
            case ReasoningEnd(id=part_id):
                texts, metadata = reasoning.pop(part_id)
                content.append(ReasoningContent("".join(texts), {"anthropic": metadata}))
            case ToolCall(tool_call_id=call_id, tool_name=name, input_json=raw, provider_executed=executed):
                content.append(ToolCallContent(call_id, name, json.loads(raw), provider_executed=executed))
            case ToolOutput(tool_call_id=call_id, output=output):
                content.append(ProviderToolResultContent(call_id, "web_search", output))
    merged: list[AssistantContent] = []
    for part in content:  # text deltas → one text part per run, as the client assembles them
        if isinstance(part, TextContent) and merged and isinstance(merged[-1], TextContent):
            merged[-1] = TextContent(merged[-1].text + part.text)
        else:
            merged.append(part)
    return AssistantMessage(tuple(merged))


# ---------------------------------------------------------------------------------------------
# Every stream transcript
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", STREAM_CASES)
async def test_every_transcript_translates_as_expected(upstream: FakeUpstream, case: str) -> None:
    expect = _meta(case)["expect"]
    events = await _run(upstream.base_url("anthropic", case), _call())

    _check_invariants(events)
    assert "".join(e.delta for e in events if isinstance(e, TextDelta)) == expect["text"]
    assert "".join(e.delta for e in events if isinstance(e, ReasoningDelta)) == expect["thinking"]
    signatures = [
        e.provider_metadata["anthropic"]["signature"]
        for e in events
        if isinstance(e, ReasoningDelta) and e.provider_metadata
    ]
    assert signatures == expect["signatures"]
    redacted = [
        e.provider_metadata["anthropic"]["redactedData"]
        for e in events
        if isinstance(e, ReasoningStart) and e.provider_metadata
    ]
    assert redacted == expect["redacted_thinking_data"]
    calls = [e for e in events if isinstance(e, ToolCall)]
    tool_uses = [
        {"id": c.tool_call_id, "name": c.tool_name, "input": json.loads(c.input_json)}
        for c in calls
        if not c.provider_executed
    ]
    assert tool_uses == expect["tool_uses"]
    finish = events[-1]
    assert isinstance(finish, Finish)
    assert finish.raw_reason == expect["stop_reason"]
    usage = expect["usage"]
    cache_read, cache_write = usage.get("cache_read_input_tokens"), usage.get("cache_creation_input_tokens")
    assert finish.usage.input_tokens == usage["input_tokens"] + (cache_read or 0) + (cache_write or 0)
    assert finish.usage.output_tokens == usage["output_tokens"]
    assert (finish.usage.cache_read_tokens, finish.usage.cache_write_tokens) == (cache_read, cache_write)

    request = upstream.requests[0]
    assert request.path == f"/anthropic/{case}/v1/messages"
    assert request.headers["Authorization"] == f"Bearer {API_KEY}"
    assert request.headers["x-stainless-retry-count"] == "0"
    assert request.json()["stream"] is True


async def test_text_events_and_request(upstream: FakeUpstream) -> None:
    call = _call(system="You are a helpful assistant", temperature=0.3)
    events = await _run(upstream.base_url("anthropic", "text_basic"), call)

    assert events[0] == TextStart("0")
    assert events[1:4] == [TextDelta("0", "Olá! ("), TextDelta("0", "That"), TextDelta("0", "'s \"hi")]
    assert events[-2:] == [TextEnd("0"), Finish("stop", "end_turn", Usage(16, 38, 0, 0, None))]
    sent = upstream.requests[0].json()
    recorded = json.loads((FOLDER / "text_basic.request.json").read_text())
    assert sent["messages"] == recorded["messages"]
    assert (sent["model"], sent["max_tokens"]) == ("claude-sonnet-4-6", recorded["max_tokens"])
    assert sent["system"] == [
        {"type": "text", "text": "You are a helpful assistant", "cache_control": {"type": "ephemeral"}}
    ]
    assert sent["temperature"] == 0.3  # through extra_body: SDK 2.12 has no parameter for it
    assert "thinking" not in sent and "tools" not in sent and "top_p" not in sent and "extra_body" not in sent
    # Encoded by us (anthropic.request_body), sent by the SDK with its headers.
    headers = {name.lower(): value for name, value in upstream.requests[0].headers.items()}
    assert headers["content-type"] == "application/json"
    assert headers["anthropic-version"] and headers["authorization"] == f"Bearer {API_KEY}"


async def test_cache_usage_counts_cached_tokens_into_the_prompt_total(upstream: FakeUpstream) -> None:
    events = await _run(upstream.base_url("anthropic", "text_cache_usage"), _call())
    assert events[-1] == Finish("stop", "end_turn", Usage(16 + 412 + 2048, 38, 2048, 412, None))


async def test_thinking_with_signature_and_reasoning_tokens(upstream: FakeUpstream) -> None:
    events = await _run(upstream.base_url("anthropic", "thinking_text"), _call())
    signature = _meta("thinking_text")["expect"]["signatures"][0]
    assert events[:2] == [ReasoningStart("0"), ReasoningDelta("0", "The user wants a haiku about the sea.")]
    assert events[4:7] == [
        ReasoningDelta("0", "", {"anthropic": {"signature": signature}}),
        ReasoningEnd("0"),
        TextStart("1"),
    ]
    assert events[-1] == Finish("stop", "end_turn", Usage(42, 96, 0, 0, 61))


async def test_redacted_and_omitted_thinking(upstream: FakeUpstream) -> None:
    events = await _run(upstream.base_url("anthropic", "composed_redacted_and_omitted_thinking"), _call())
    expect = _meta("composed_redacted_and_omitted_thinking")["expect"]
    assert events[:5] == [
        ReasoningStart("0", {"anthropic": {"redactedData": expect["redacted_thinking_data"][0]}}),
        ReasoningEnd("0"),
        ReasoningStart("1"),  # display "omitted": no thinking text, only the signature
        ReasoningDelta("1", "", {"anthropic": {"signature": expect["signatures"][0]}}),
        ReasoningEnd("1"),
    ]
    # message_delta carried only output_tokens: the message_start input counts stand.
    assert events[-1] == Finish("stop", "end_turn", Usage(58, 120, 0, 0, None))


async def test_refusal_maps_to_content_filter(upstream: FakeUpstream) -> None:
    events = await _run(upstream.base_url("anthropic", "refusal"), _call())
    assert events[:2] == [TextStart("0"), TextEnd("0")]
    details: JsonValue = {
        "type": "refusal",
        "category": "cyber",
        "explanation": "This request was refused due to policy.",
    }
    assert events[-1] == Finish(
        "content-filter", "refusal", Usage(20, 0, None, None, None), {"anthropic": {"stopDetails": details}}
    )


async def test_parallel_tool_calls_stream_their_input(upstream: FakeUpstream) -> None:
    events = await _run(upstream.base_url("anthropic", "parallel_tool_calls"), _call())
    tool_events = [e for e in events if isinstance(e, (ToolInputStart, ToolInputDelta, ToolCall))]
    first, second = "toolu_01UYxUYC2zRPY8wiutnF48eP", "toolu_01VaRx1jpWCvPhi7L4kywAcd"
    assert tool_events[:5] == [  # the empty first fragment is skipped
        ToolInputStart(first, "add"),
        ToolInputDelta(first, '{"a": 2'),
        ToolInputDelta(first, ', "b"'),
        ToolInputDelta(first, ": 3}"),
        ToolCall(first, "add", '{"a": 2, "b": 3}'),
    ]
    assert tool_events[5] == ToolInputStart(second, "multiply")
    assert tool_events[-1] == ToolCall(second, "multiply", '{"a": 2, "b": 3}')
    assert events[-1] == Finish("tool-calls", "tool_use", Usage(502, 137, 0, 0, None))


async def test_web_search_server_tool_results_and_deduplicated_sources(upstream: FakeUpstream) -> None:
    case = "composed_web_search_citations"
    events = await _run(upstream.base_url("anthropic", case), _call())
    search_id = "srvtoolu_01WYG3ziw53XMcoyKL4XcZmE"
    assert ToolInputStart(search_id, "web_search", provider_executed=True) in events
    assert ToolCall(search_id, "web_search", '{"query": "Claude Shannon birth date"}', provider_executed=True) in events
    [output] = [e for e in events if isinstance(e, ToolOutput)]
    assert output.tool_call_id == search_id
    assert isinstance(output.output, list)
    assert [result["url"] for result in output.output if isinstance(result, dict)] == [
        "https://en.wikipedia.org/wiki/Claude_Shannon",
        "https://www.britannica.com/biography/Claude-Shannon",
    ]
    assert isinstance(output.output[0], dict) and str(output.output[0]["encrypted_content"]).startswith("EqgfC")
    sources = [e for e in events if isinstance(e, Source)]
    # Two search results, then two citations of the first URL: one source per URL.
    assert [(s.url, s.title) for s in sources] == [
        ("https://en.wikipedia.org/wiki/Claude_Shannon", "Claude Shannon - Wikipedia"),
        (
            "https://www.britannica.com/biography/Claude-Shannon",
            "Claude Shannon | Biography, Inventions, & Facts | Britannica",
        ),
    ]
    assert len({s.source_id for s in sources}) == 2
    finish = events[-1]
    assert isinstance(finish, Finish)
    assert finish.provider_metadata == {
        "anthropic": {"serverToolUse": {"web_search_requests": 1, "web_fetch_requests": 0}}
    }

    # Sent back next turn: server_tool_use and its result block, unchanged, in original order.
    upstream.enqueue(Reply.from_case("anthropic", "text_basic"))
    history = (UserMessage((TextContent("When was Claude Shannon born?"),)), _fold(events))
    await _run(upstream.url, _call(*history, UserMessage((TextContent("Thanks!"),))))
    assistant = upstream.requests[1].json()["messages"][1]
    assert [block["type"] for block in assistant["content"]] == [
        "text",
        "server_tool_use",
        "web_search_tool_result",
        "text",
    ]
    assert assistant["content"][1] == {
        "type": "server_tool_use",
        "id": search_id,
        "name": "web_search",
        "input": {"query": "Claude Shannon birth date"},
    }
    assert assistant["content"][2] == {
        "type": "web_search_tool_result",
        "tool_use_id": search_id,
        "content": output.output,
    }


# ---------------------------------------------------------------------------------------------
# Round trips: the follow-up request must have the recorded shape
# ---------------------------------------------------------------------------------------------


async def test_thinking_tool_use_round_trip_sends_the_signed_thinking_back(upstream: FakeUpstream) -> None:
    recorded = json.loads((FOLDER / "thinking_tool_use_followup.request.json").read_text())
    weather = ToolDefinition("weather", "Get weather information for a location", recorded["tools"][0]["input_schema"])
    settings: dict[str, Any] = {
        "system": "You are a helpful assistant",
        "tools": (weather,),
        "max_tokens": 4096,
        "thinking": ThinkingSettings(enabled=True, budget_tokens=4000),
        "provider_options": {"anthropic": {"prompt_caching": False}},
    }
    question = UserMessage((TextContent("What's the weather in Florence, Italy?"),))
    base_url = upstream.base_url("anthropic", "thinking_tool_use")
    first = await _run(base_url, _call(question, **settings))
    assert first[-1] == Finish("tool-calls", "tool_use", Usage(424, 119, 0, 0, None))

    answer = ToolMessage((ToolResultContent("toolu_01Js4AMfx5qpTLhwTusnvT68", "weather", "40 C"),))
    second = await _run(base_url, _call(question, _fold(first), answer, **settings))

    sent = upstream.requests[1].json()
    for key in ("messages", "system", "tools", "thinking", "max_tokens"):
        assert sent[key] == recorded[key], key
    assert "".join(e.delta for e in second if isinstance(e, TextDelta)).startswith("The current weather")


async def test_parallel_tool_results_go_in_one_user_message_in_call_order(upstream: FakeUpstream) -> None:
    recorded = json.loads((FOLDER / "parallel_tool_calls_followup.request.json").read_text())
    question = UserMessage((TextContent("Add and multiply the number 2 and 3"),))
    base_url = upstream.base_url("anthropic", "parallel_tool_calls")
    first = await _run(base_url, _call(question))
    results = ToolMessage(
        (
            ToolResultContent("toolu_01UYxUYC2zRPY8wiutnF48eP", "add", "5"),
            ToolResultContent("toolu_01VaRx1jpWCvPhi7L4kywAcd", "multiply", "6"),
        )
    )
    second = await _run(base_url, _call(question, _fold(first), results))

    assert upstream.requests[1].json()["messages"] == recorded["messages"]
    assert second[-1] == Finish("stop", "end_turn", Usage(700, 31, 0, 0, None))


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------

EXPECTED_ERRORS = {
    "error_400_invalid_request": ("bad_request", None),
    "error_401_authentication": ("auth", None),
    "error_429_rate_limit": ("rate_limited", 2.0),
    "error_529_overloaded": ("overloaded", None),
}


def test_every_error_transcript_has_an_expectation() -> None:
    assert sorted(EXPECTED_ERRORS) == ERROR_CASES


@pytest.mark.parametrize("case", ERROR_CASES)
async def test_error_transcripts_map_to_categories(upstream: FakeUpstream, case: str) -> None:
    category, retry_after = EXPECTED_ERRORS[case]
    body = json.loads((FOLDER / _meta(case)["body_file"]).read_text())
    with pytest.raises(ProviderError) as caught:
        await _run(upstream.base_url("anthropic", case), _call())
    error = caught.value
    assert (error.category, error.status, error.retry_after_seconds) == (category, _meta(case)["status"], retry_after)
    assert error.detail == body["error"]["message"][:300]
    assert API_KEY not in str(error) and "sk-ant" not in error.public_message
    assert len(upstream.requests) == 1  # max_retries=0: the loop owns retries


async def test_midstream_overload_raises_after_the_text_that_arrived(upstream: FakeUpstream) -> None:
    model = _model(upstream.base_url("anthropic", "midstream_error_overloaded"))
    received: list[ProviderEvent] = []
    with pytest.raises(ProviderError) as caught:
        async for event in model.stream(_call()):
            received.append(event)
    await model.aclose()
    assert "".join(e.delta for e in received if isinstance(e, TextDelta)) == 'Olá! (That\'s "hi" in Portuguese)'
    assert not any(isinstance(e, Finish) for e in received)
    error = caught.value
    assert (error.category, error.status, error.detail, error.retryable) == ("overloaded", None, "Overloaded", True)


def _error_reply(status: int, error_type: str, message: str, **headers: str) -> Reply:
    body = json.dumps({"type": "error", "error": {"type": error_type, "message": message}}).encode()
    return Reply(status=status, headers={"content-type": "application/json", **headers}, body=body)


@pytest.mark.parametrize(
    ("reply", "category", "retry_after"),
    [
        (_error_reply(503, "api_error", "Service Unavailable"), "overloaded", None),
        (_error_reply(500, "api_error", "Internal server error"), "upstream", None),
        (_error_reply(403, "permission_error", "no access to this model"), "auth", None),
        (_error_reply(413, "request_too_large", "Request exceeds the maximum size"), "context_length", None),
        (
            _error_reply(400, "invalid_request_error", "prompt is too long: 208310 tokens > 200000 maximum"),
            "context_length",
            None,
        ),
        (_error_reply(404, "not_found_error", "model: claude-nope"), "bad_request", None),
        (
            _error_reply(429, "rate_limit_error", "slow down", **{"retry-after-ms": "1500", "retry-after": "2"}),
            "rate_limited",
            1.5,
        ),
        (_error_reply(529, "overloaded_error", "Overloaded", **{"retry-after": "7"}), "overloaded", 7.0),
        (
            Reply.sse('event: error\ndata: {"type":"error","error":{"type":"rate_limit_error","message":"x"}}\n\n'),
            "rate_limited",
            None,
        ),
        (
            Reply.sse('event: error\ndata: {"type":"error","error":{"type":"api_error","message":"boom"}}\n\n'),
            "upstream",
            None,
        ),
    ],
)
async def test_other_errors_map_by_status_and_type(
    upstream: FakeUpstream, reply: Reply, category: str, retry_after: float | None
) -> None:
    upstream.enqueue(reply)
    with pytest.raises(ProviderError) as caught:
        await _run(upstream.url, _call())
    assert (caught.value.category, caught.value.retry_after_seconds) == (category, retry_after)


async def test_a_stream_cut_before_message_stop_is_an_error(upstream: FakeUpstream) -> None:
    body = (FOLDER / "text_basic.sse").read_text()
    upstream.enqueue(Reply.sse(body[: body.index("event: content_block_stop")]))
    model = _model(upstream.url)
    received: list[ProviderEvent] = []
    with pytest.raises(ProviderError) as caught:
        async for event in model.stream(_call()):
            received.append(event)
    await model.aclose()
    assert caught.value.category == "network"
    assert "".join(e.delta for e in received if isinstance(e, TextDelta)).endswith("in Portuguese.")


async def test_unreachable_upstream_is_a_network_error(upstream: FakeUpstream) -> None:
    async with FakeUpstream() as closed:
        url = closed.url
    with pytest.raises(ProviderError) as caught:
        await _run(url, _call())
    assert caught.value.category == "network"


async def test_a_stalled_stream_is_ended_by_the_idle_guard_not_a_read_timeout(upstream: FakeUpstream) -> None:
    # The stream's request has no read timeout (providers/shared.stream_timeout: aiohttp would re-arm
    # a timer per chunk); the loop's idle guard, which wraps every model call, ends a silent stream.
    release = asyncio.Event()
    upstream.enqueue(Reply.from_case("anthropic", "text_basic", hold_after_events=4, release=release))
    model = _model(upstream.url, timeout_seconds=0.1)
    received: list[ProviderEvent] = []
    with pytest.raises(ProviderError) as caught:
        async for event in guarded(model.stream(_call()), "anthropic", idle=0.3, deadline=None):
            received.append(event)
    release.set()
    await model.aclose()
    assert (caught.value.category, caught.value.detail) == (
        "timeout",
        "no data from the provider for 0.3 s (idle timeout)",
    )
    assert received == [TextStart("0"), TextDelta("0", "Olá! (")]


async def test_preset_headers_are_sent_and_http_date_retry_after_is_read(upstream: FakeUpstream) -> None:
    in_a_minute = email.utils.formatdate(time.time() + 60, usegmt=True)
    upstream.enqueue(_error_reply(429, "rate_limit_error", "slow down", **{"retry-after": in_a_minute}))
    model = _model(upstream.url, headers={"X-Title": "chatwire"})
    with pytest.raises(ProviderError) as caught:
        [event async for event in model.stream(_call())]
    await model.aclose()
    assert upstream.requests[0].headers["x-title"] == "chatwire"
    assert caught.value.retry_after_seconds is not None and 50 < caught.value.retry_after_seconds <= 60


# ---------------------------------------------------------------------------------------------
# Our own parse of the stream (event_stream.py + anthropic_stream.py)
# ---------------------------------------------------------------------------------------------


def _with_extras(body: str) -> str:
    """``body`` with what a newer API may send: an unknown event, block, delta and citation type,
    a ping and an SSE comment; all of them must change nothing."""
    unknown = (
        ": keep-alive comment\n\n"
        'event: ping\ndata: {"type": "ping"}\n\n'
        'event: brand_new_event\ndata: {"type":"brand_new_event","x":1}\n\n'
        'event: content_block_start\ndata: {"type":"content_block_start","index":9,'
        '"content_block":{"type":"mystery"}}\n\n'
        'event: content_block_delta\ndata: {"type":"content_block_delta","index":9,"delta":{"type":"new_delta"}}\n\n'
        'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"new_delta"}}\n\n'
        'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
        '"delta":{"type":"citations_delta","citation":{"type":"new_location","cited_text":"x"}}}\n\n'
        'event: content_block_stop\ndata: {"type":"content_block_stop","index":9}\n\n'
    )
    first_delta = body.index("event: content_block_delta")
    return body[:first_delta] + unknown + body[first_delta:]


@pytest.mark.parametrize("variant", ["extras", "crlf", "one event per line"])
async def test_unknown_types_pings_comments_and_line_ends_change_nothing(upstream: FakeUpstream, variant: str) -> None:
    body = (FOLDER / "text_basic.sse").read_text()
    expected = await _run(upstream.base_url("anthropic", "text_basic"), _call())
    if variant == "extras":
        changed = _with_extras(body)
    elif variant == "crlf":
        changed = body.replace("\n", "\r\n")
    else:  # an event's `data` split over several lines is joined with LF, still valid JSON
        changed = body.replace(',"delta":', ',\ndata: "delta":')
    upstream.enqueue(Reply.sse(changed))
    assert await _run(upstream.url, _call()) == expected
    assert len(expected) > 5 and isinstance(expected[-1], Finish)


@pytest.mark.parametrize(
    ("event", "detail"),
    [
        ('event: content_block_start\ndata: {"type":"content_block_start","content_block":{"type":"text"}}', "index"),
        ('event: message_start\ndata: {"type":"message_start","message":{"id":"m"}}', "usage"),
        ("event: message_start\ndata: {not json", "not JSON"),
        ("event: error\ndata: ", "Error code: 200"),
    ],
)
async def test_a_malformed_event_is_an_upstream_error(upstream: FakeUpstream, event: str, detail: str) -> None:
    upstream.enqueue(Reply.sse(event + "\n\n"))
    with pytest.raises(ProviderError) as caught:
        await _run(upstream.url, _call())
    assert caught.value.category == "upstream" and detail in caught.value.detail


async def test_a_midstream_error_keeps_the_response_headers_retry_after(upstream: FakeUpstream) -> None:
    body = b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n'
    upstream.enqueue(Reply(status=200, headers={"content-type": "text/event-stream", "retry-after": "3"}, body=body))
    with pytest.raises(ProviderError) as caught:
        await _run(upstream.url, _call())
    error = caught.value
    assert (error.category, error.status, error.detail, error.retry_after_seconds) == (
        "overloaded",
        None,
        "Overloaded",
        3.0,
    )


# ---------------------------------------------------------------------------------------------
# Cancellation
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["aclose", "cancel"])
async def test_stopping_early_closes_the_upstream_response(upstream: FakeUpstream, how: str) -> None:
    release = asyncio.Event()
    upstream.enqueue(Reply.from_case("anthropic", "text_basic", hold_after_events=5, release=release))
    model = _model(upstream.url)
    stream = cast(AsyncGenerator[ProviderEvent, None], model.stream(_call()))
    received = await stop_early(
        stream, how, lambda received: len(received) == 3
    )  # all the server sends before it holds
    await upstream.round_trip()  # the server has seen our side close the connection
    assert (upstream.open_streams, upstream.disconnects) == (1, 0)  # still holding the rest
    release.set()  # it writes again and finds the connection closed
    await upstream.round_trip()
    assert (upstream.open_streams, upstream.disconnects) == (0, 1)
    assert received[0] == TextStart("0")
    assert [type(event) for event in received[1:]] == [TextDelta] * (len(received) - 1)
    await model.aclose()


def test_fixture_folder_is_complete() -> None:
    # Guard against a transcript silently dropping out of the parametrised replay.
    assert len(STREAM_CASES) >= 10 and len(ERROR_CASES) == 4
    assert Path(FOLDER / "composed_web_search_citations.sse").exists()
