"""Provider ``openai`` (Responses API) against the real SDK and recorded wire bodies.

Every transcript in tests/fixtures/openai named ``responses_*`` (and the composed ones) is
replayed byte for byte by tests/upstream.py; we assert the events we translate AND the request
the SDK sent.
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
    SystemMessage,
    TextContent,
    ToolCallContent,
    ToolDefinition,
    ToolMessage,
    ToolResultContent,
    UserMessage,
)
from backend.providers.base import ModelCall, ProviderConfig, ThinkingSettings
from backend.providers.openai_responses import OpenAIResponsesModel, create, to_openai_responses_params
from backend.providers.registry import create_model
from tests.providers.openai_support import (
    API_KEY,
    ERROR_EXPECTATIONS,
    FOLDER,
    cases,
    check_invariants,
    closed_port_url,
    fold,
    meta,
    reasoning_of,
    request_fixture,
    text_of,
    tool_results,
)
from tests.providers.stopping import stop_early
from tests.upstream import FakeUpstream, Reply, split_events

STREAM_CASES = [
    case for case in cases("responses_") if meta(case)["expect"].get("final_status") in ("completed", "incomplete")
]
WEATHER = ToolDefinition(
    "weather",
    "Get weather information for a location",
    {
        "properties": {"location": {"description": "the city", "type": "string"}},
        "required": ["location"],
        "type": "object",
    },
)
QUESTION = UserMessage((TextContent("What's the weather in Florence, Italy?"),))


def _model(base_url: str) -> OpenAIResponsesModel:
    model = create(ProviderConfig(provider="openai", credentials={"api_key": API_KEY}, base_url=base_url))
    assert isinstance(model, OpenAIResponsesModel)
    return model


def _call(*messages: Message, **overrides: Any) -> ModelCall:
    fields: dict[str, Any] = {"model": "gpt-5", "max_tokens": 4000, "system": "You are a helpful assistant"}
    fields.update(overrides)
    return ModelCall(messages=messages or (UserMessage((TextContent("Say hi in Portuguese"),)),), **fields)


def _thinking_call(*messages: Message) -> ModelCall:
    return _call(*(messages or (QUESTION,)), tools=(WEATHER,), thinking=ThinkingSettings(enabled=True, effort="high"))


async def _run(upstream: FakeUpstream, case: str, call: ModelCall) -> list[ProviderEvent]:
    model = _model(upstream.base_url("openai", case) + "/v1")
    try:
        return [event async for event in model.stream(call)]
    finally:
        await model.aclose()


def _sse_items(case: str, event_type: str) -> list[dict[str, Any]]:
    """The data objects of every event of one type in a fixture body."""
    body = (FOLDER / meta(case)["body_file"]).read_bytes()
    found = []
    for event in split_events(body):
        for line in event.decode().splitlines():
            if line.startswith("data: ") and f'"type":"{event_type}"' in line.replace(" ", ""):
                found.append(json.loads(line[6:]))
    return found


# ---------------------------------------------------------------------------------------------
# Every stream transcript
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", STREAM_CASES)
async def test_every_transcript_translates_as_expected(upstream: FakeUpstream, case: str) -> None:
    expect = meta(case)["expect"]
    events = await _run(upstream, case, _call())

    check_invariants(events)
    assert text_of(events) == expect["text"]
    summaries = expect.get("reasoning_summaries", [expect.get("reasoning_summary", "")])
    assert reasoning_of(events) == "".join(summaries)
    calls = [
        {"call_id": e.tool_call_id, "name": e.tool_name, "arguments": e.input_json}
        for e in events
        if isinstance(e, ToolCall)
    ]
    assert calls == expect.get("function_calls", [])
    finish = events[-1]
    assert isinstance(finish, Finish)
    usage = expect["usage"]
    assert finish.usage == Usage(
        input_tokens=usage["input_tokens"],
        output_tokens=usage["output_tokens"],
        cache_read_tokens=usage["input_tokens_details"]["cached_tokens"],
        cache_write_tokens=usage["input_tokens_details"].get("cache_write_tokens", 0),
        reasoning_tokens=usage["output_tokens_details"]["reasoning_tokens"],
    )
    expected_reason = "tool-calls" if calls else "length" if expect["final_status"] == "incomplete" else "stop"
    assert finish.reason == expected_reason

    request = upstream.requests[0]
    assert request.path == f"/openai/{case}/v1/responses"
    assert request.headers["Authorization"] == f"Bearer {API_KEY}"
    assert request.headers["x-stainless-retry-count"] == "0"
    assert request.headers["Content-Type"] == "application/json"  # our orjson body (shared.json_body)
    assert len(upstream.requests) == 1


async def test_text_request_matches_the_recorded_one(upstream: FakeUpstream) -> None:
    events = await _run(upstream, "responses_text_basic", _call(model="gpt-4o-mini"))

    item_id = "msg_0a6fc3349e38704d016a3c120b5d28819ea807fdf185cae88e"
    assert events[0] == TextStart(item_id, {"openai": {"itemId": item_id}})
    assert [type(event) for event in events] == [TextStart] + [TextDelta] * 7 + [TextEnd, Finish]
    finish = events[-1]
    assert isinstance(finish, Finish) and finish.raw_reason == "completed"
    assert finish.provider_metadata == {
        "openai": {"responseId": "resp_0a6fc3349e38704d016a3c120ac63c819e941b6f18b7170ff4"}
    }

    sent = upstream.requests[0].json()
    recorded = request_fixture("responses_text_basic")
    # The recording put the system prompt in `input`; we send it as `instructions`.
    assert sent == {
        "model": recorded["model"],
        "input": recorded["input"][1:],
        "instructions": recorded["input"][0]["content"],
        "max_output_tokens": recorded["max_output_tokens"],
        "store": recorded["store"],
        "stream": True,
    }


async def test_cached_usage_counts_cache_reads_inside_input_tokens(upstream: FakeUpstream) -> None:
    finish = (await _run(upstream, "responses_cached_usage", _call()))[-1]
    assert finish == Finish(
        reason="stop",
        raw_reason="completed",
        usage=Usage(
            input_tokens=2020, output_tokens=8, cache_read_tokens=1920, cache_write_tokens=0, reasoning_tokens=0
        ),
        provider_metadata={"openai": {"responseId": "resp_0a6fc3349e38704d016a3c120ac63c819e941b6f18b7170ff4"}},
    )


# ---------------------------------------------------------------------------------------------
# Reasoning and tool calls
# ---------------------------------------------------------------------------------------------


async def test_reasoning_and_tool_call_events(upstream: FakeUpstream) -> None:
    case = "responses_reasoning_tool_call"
    events = await _run(upstream, case, _thinking_call())
    added = _sse_items(case, "response.output_item.added")[0]["item"]
    done = _sse_items(case, "response.output_item.done")[0]["item"]
    item_id = done["id"]
    assert added["encrypted_content"] != done["encrypted_content"]  # the `.added` copy is partial

    reasoning = [e for e in events if isinstance(e, ReasoningStart | ReasoningEnd)]
    assert reasoning == [
        ReasoningStart(f"{item_id}:0", {"openai": {"itemId": item_id, "reasoningEncryptedContent": None}}),
        ReasoningEnd(
            f"{item_id}:0",
            {"openai": {"itemId": item_id, "reasoningEncryptedContent": done["encrypted_content"]}},
        ),
    ]
    assert reasoning_of(events) == meta(case)["expect"]["reasoning_summary"]
    function_item = _sse_items(case, "response.output_item.done")[1]["item"]
    tool_events = [e for e in events if isinstance(e, ToolInputStart | ToolInputDelta | ToolCall)]
    item_metadata = {"openai": {"itemId": function_item["id"]}}
    assert tool_events[0] == ToolInputStart("call_zgUaIBRPTwxxOusyyKw5NVMH", "weather", item_metadata)
    assert "".join(e.delta for e in tool_events if isinstance(e, ToolInputDelta)) == function_item["arguments"]
    assert len([e for e in tool_events if isinstance(e, ToolInputDelta)]) == 8  # fragmented arguments
    assert tool_events[-1] == ToolCall(
        "call_zgUaIBRPTwxxOusyyKw5NVMH", "weather", '{"location":"Florence, Italy"}', item_metadata
    )
    assert isinstance(events[-1], Finish) and events[-1].reason == "tool-calls"

    sent = upstream.requests[0].json()
    recorded = request_fixture(case)
    assert sent["reasoning"] == recorded["reasoning"] == {"effort": "high", "summary": "auto"}
    assert sent["include"] == recorded["include"] == ["reasoning.encrypted_content"]
    assert sent["tools"] == recorded["tools"]
    assert sent["store"] is False
    assert sent["input"] == recorded["input"][1:]


async def test_reasoning_tool_call_round_trip_replays_the_encrypted_reasoning(upstream: FakeUpstream) -> None:
    # README §2.3: stateless multi-turn sends back reasoning + function_call + function_call_output.
    # The follow-up body is the recorded interaction that answered this very call.
    turn_one = await _run(upstream, "responses_reasoning_tool_call", _thinking_call())
    assistant = fold(turn_one)
    results = tool_results(assistant, {"weather": "40 C"})
    upstream.enqueue(Reply.from_case("openai", "responses_reasoning_text"))
    turn_two = await _run(upstream, "unused", _thinking_call(QUESTION, assistant, results))

    done = _sse_items("responses_reasoning_tool_call", "response.output_item.done")[0]["item"]
    sent = upstream.requests[1].json()
    assert [item.get("type", item.get("role")) for item in sent["input"]] == [
        "user",
        "reasoning",
        "function_call",
        "function_call_output",
    ]
    reasoning_item = sent["input"][1]
    assert reasoning_item == {
        "type": "reasoning",
        "id": done["id"],
        "summary": done["summary"],
        "encrypted_content": done["encrypted_content"],
    }
    recorded_followup = request_fixture("responses_reasoning_text")["input"]
    assert sent["input"][2] == recorded_followup[2]  # function_call: call_id, name, arguments
    assert sent["input"][3] == recorded_followup[3]  # function_call_output "40 C"
    assert text_of(turn_two) == meta("responses_reasoning_text")["expect"]["text"]
    assert isinstance(turn_two[-1], Finish) and turn_two[-1].reason == "stop"


async def test_empty_reasoning_item_still_produces_a_part(upstream: FakeUpstream) -> None:
    # gpt-5 without a summary sends an empty reasoning item (no encrypted content was asked for).
    events = await _run(upstream, "responses_parallel_tool_calls", _call())
    reasoning = [e for e in events if isinstance(e, ReasoningStart | ReasoningDelta | ReasoningEnd)]
    item_id = "rs_0a7836d50cf181dd016a3c122e5e1881a1b60647835c2c9ab0"
    metadata = {"openai": {"itemId": item_id, "reasoningEncryptedContent": None}}
    assert reasoning == [ReasoningStart(f"{item_id}:0", metadata), ReasoningEnd(f"{item_id}:0", metadata)]

    # Without encrypted content a stateless request cannot refer to the item: it is left out.
    assistant = fold(events)
    results = tool_results(assistant, {"add": 5, "multiply": 6})
    upstream.enqueue(Reply.from_case("openai", "responses_text_basic"))
    await _run(upstream, "unused", _call(UserMessage((TextContent("Add and multiply 2 and 3"),)), assistant, results))
    sent = upstream.requests[1].json()["input"]
    assert [item.get("type", item.get("role")) for item in sent] == [
        "user",
        "function_call",
        "function_call",
        "function_call_output",
        "function_call_output",
    ]
    assert [item["output"] for item in sent[3:]] == ["5", "6"]
    assert [item["call_id"] for item in sent[1:3]] == [item["call_id"] for item in sent[3:]]


async def test_summary_parts_carry_the_encrypted_content_on_the_last_part(upstream: FakeUpstream) -> None:
    case = "composed_responses_reasoning_two_summaries"
    expect = meta(case)["expect"]
    events = await _run(upstream, case, _thinking_call())
    item_id = "rs_0d62f3b8c0e4a5f6016a3c3000b2c3d4e5f60718293a4b5c6d"

    assert [e for e in events if isinstance(e, ReasoningStart | ReasoningEnd)] == [
        ReasoningStart(f"{item_id}:0", {"openai": {"itemId": item_id, "reasoningEncryptedContent": None}}),
        ReasoningEnd(f"{item_id}:0", {"openai": {"itemId": item_id}}),
        ReasoningStart(f"{item_id}:1", {"openai": {"itemId": item_id, "reasoningEncryptedContent": None}}),
        ReasoningEnd(
            f"{item_id}:1",
            {"openai": {"itemId": item_id, "reasoningEncryptedContent": expect["encrypted_content_done"]}},
        ),
    ]
    assert expect["encrypted_content_added"] not in repr(events)

    # Both parts merge back into one reasoning item; the message keeps its item id.
    assistant = fold(events)
    upstream.enqueue(Reply.from_case("openai", "responses_text_basic"))
    await _run(upstream, "unused", _thinking_call(QUESTION, assistant, UserMessage((TextContent("Why?"),))))
    sent = upstream.requests[1].json()["input"]
    assert sent[1] == {
        "type": "reasoning",
        "id": item_id,
        "summary": [{"type": "summary_text", "text": text} for text in expect["reasoning_summaries"]],
        "encrypted_content": expect["encrypted_content_done"],
    }
    assert sent[2] == {
        "type": "message",
        "id": "msg_0d62f3b8c0e4a5f6016a3c3001c3d4e5f60718293a4b5c6d7e",
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_text", "text": "Two.", "annotations": []}],
    }
    assert sent[3] == {"role": "user", "content": [{"type": "input_text", "text": "Why?"}]}


async def test_incomplete_response_finishes_with_length(upstream: FakeUpstream) -> None:
    events = await _run(upstream, "composed_responses_incomplete_max_tokens", _call())
    check_invariants(events)
    finish = events[-1]
    assert isinstance(finish, Finish)
    assert (finish.reason, finish.raw_reason) == ("length", "max_output_tokens")
    assert text_of(events) == "Once upon a time, in a"


async def test_url_annotations_become_sources_and_stray_reasoning_deltas_open_a_part(upstream: FakeUpstream) -> None:
    recorded = split_events((FOLDER / "responses_text_basic.sse").read_bytes())
    item_id = "msg_0a6fc3349e38704d016a3c120b5d28819ea807fdf185cae88e"

    def event(data: dict[str, Any]) -> bytes:
        return f"event: {data['type']}\ndata: {json.dumps(data)}\n\n".encode()

    citation = {"type": "url_citation", "url": "https://example.com/a", "title": "A", "start_index": 0, "end_index": 2}
    annotation = {
        "type": "response.output_text.annotation.added",
        "item_id": item_id,
        "output_index": 0,
        "content_index": 0,
        "annotation_index": 0,
        "annotation": citation,
        "sequence_number": 20,
    }
    stray = {
        "type": "response.reasoning_summary_text.delta",
        "item_id": "rs_stray",
        "output_index": 1,
        "summary_index": 0,
        "delta": "hmm",
        "sequence_number": 21,
    }
    body = b"".join([*recorded[:5], event(annotation), event(annotation), event(stray), *recorded[5:]])
    upstream.enqueue(Reply.sse(body))
    events = await _run(upstream, "unused", _call())
    check_invariants(events)
    assert [e for e in events if isinstance(e, Source)] == [Source("source-1", "https://example.com/a", "A")]
    assert reasoning_of(events) == "hmm"


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
        "openai",
        category,
        status,
        retry_after,
    )
    assert API_KEY not in str(error)
    assert len(upstream.requests) == 1  # max_retries=0: the loop owns retries
    if case == "error_429_insufficient_quota":
        assert "quota exhausted" in error.detail
    if case == "error_401_authentication":
        assert "Incorrect API key provided" in error.detail


async def test_documented_error_event_raises_after_partial_output(upstream: FakeUpstream) -> None:
    # Documented shape: the SDK yields an `error` event (then response.failed); we raise.
    with pytest.raises(ProviderError) as caught:
        await _run(upstream, "responses_midstream_error", _call())
    assert (caught.value.category, caught.value.detail) == (
        "upstream",
        "An error occurred while processing your request.",
    )


async def test_nested_error_event_raises_overloaded(upstream: FakeUpstream) -> None:
    # Nested shape: the SDK raises openai.APIError without a status; it is classified by code.
    with pytest.raises(ProviderError) as caught:
        await _run(upstream, "composed_responses_midstream_error_nested", _call())
    assert caught.value.category == "overloaded"
    assert caught.value.status is None
    assert "overloaded" in caught.value.detail


async def test_response_failed_without_error_event_raises(upstream: FakeUpstream) -> None:
    body = (FOLDER / "responses_midstream_error.sse").read_bytes()
    without_error_event = b"".join(event for event in split_events(body) if not event.startswith(b"event: error"))
    upstream.enqueue(Reply.sse(without_error_event))
    with pytest.raises(ProviderError) as caught:
        await _run(upstream, "unused", _call())
    assert caught.value.category == "upstream"


async def test_stream_cut_before_completion_raises_after_the_text(upstream: FakeUpstream) -> None:
    events_in = split_events((FOLDER / "responses_text_basic.sse").read_bytes())
    upstream.enqueue(Reply.sse(b"".join(events_in[:-1])))  # everything but response.completed
    model = _model(upstream.url + "/v1")
    received: list[ProviderEvent] = []
    with pytest.raises(ProviderError) as caught:
        async for event in model.stream(_call()):
            received.append(event)
    await model.aclose()
    assert caught.value.category == "upstream"
    assert text_of(received) == 'Hi in Portuguese is "Oi!"'


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
    upstream.enqueue(Reply.from_case("openai", "responses_text_basic", hold_after_events=5, release=release))
    model = _model(upstream.url + "/v1")
    stream = cast(AsyncGenerator[ProviderEvent, None], model.stream(_call()))
    received = await stop_early(stream, how)
    await upstream.round_trip()
    assert (upstream.open_streams, upstream.disconnects) == (1, 0)  # still holding the rest
    release.set()  # it writes again and finds the connection closed
    await upstream.round_trip()
    assert (upstream.open_streams, upstream.disconnects) == (0, 1)
    assert [type(event) for event in received] == [TextStart, TextDelta]
    await model.aclose()


# ---------------------------------------------------------------------------------------------
# Request building (pure)
# ---------------------------------------------------------------------------------------------


def test_foreign_reasoning_is_dropped_and_foreign_text_kept() -> None:
    anthropic_turn = AssistantMessage(
        (
            ReasoningContent("thinking...", {"anthropic": {"signature": "sig"}}),
            TextContent("Hello", {"anthropic": {"citations": []}}),
            ToolCallContent("toolu_1", "weather", {"location": "Paris"}, {"anthropic": {"caller": "direct"}}),
        )
    )
    results = ToolMessage((ToolResultContent("toolu_1", "weather", {"celsius": 21}),))
    params = to_openai_responses_params(_call(QUESTION, anthropic_turn, results))
    assert list(params["input"])[1:] == [
        {"role": "assistant", "content": "Hello"},
        {"type": "function_call", "call_id": "toolu_1", "name": "weather", "arguments": '{"location":"Paris"}'},
        {"type": "function_call_output", "call_id": "toolu_1", "output": '{"celsius": 21}'},
    ]


def test_tool_errors_and_denials_become_explanations() -> None:
    call = ToolCallContent("call_1", "weather", {})
    results = ToolMessage(
        (
            ToolResultContent("call_1", "weather", "timeout after 10 s", "error"),
            ToolResultContent("call_2", "weather", None, "denied"),
        )
    )
    params = to_openai_responses_params(_call(QUESTION, AssistantMessage((call,)), results))
    items = cast(list[dict[str, Any]], params["input"])
    outputs = [item["output"] for item in items if item.get("type") == "function_call_output"]
    assert outputs == ["Tool call failed: timeout after 10 s", "Tool call denied by the user."]


def test_files_become_input_image_and_input_file() -> None:
    user = UserMessage(
        (
            FileContent("image/png", data=b"\x89PNG....", part_path="messages[0].parts[0]"),
            FileContent("image/jpeg", url="https://example.com/cat.jpg", part_path="messages[0].parts[1]"),
            FileContent("application/pdf", data=b"%PDF-1.7", filename="spec.pdf", part_path="messages[0].parts[2]"),
            TextContent("Describe these"),
        )
    )
    params = to_openai_responses_params(_call(user))
    assert list(params["input"]) == [
        {
            "role": "user",
            "content": [
                {"type": "input_image", "image_url": "data:image/png;base64,iVBORy4uLi4=", "detail": "auto"},
                {"type": "input_image", "image_url": "https://example.com/cat.jpg", "detail": "auto"},
                {"type": "input_file", "filename": "spec.pdf", "file_data": "data:application/pdf;base64,JVBERi0xLjc="},
                {"type": "input_text", "text": "Describe these"},
            ],
        }
    ]


def test_unsupported_file_names_the_part() -> None:
    user = UserMessage((FileContent("audio/wav", data=b"RIFF", part_path="messages[2].parts[1]"),))
    with pytest.raises(ProviderError) as caught:
        to_openai_responses_params(_call(user))
    assert caught.value.code == "unsupported_file"
    assert "messages[2].parts[1]" in caught.value.public_message


def test_thinking_and_sampling_options() -> None:
    call = _call(
        SystemMessage("Answer in French."),
        temperature=0.2,
        top_p=0.9,
        thinking=ThinkingSettings(enabled=True, effort="max"),
        provider_options={"openai": {"reasoning_summary": "none", "encrypted_reasoning": False}},
    )
    params = to_openai_responses_params(call)
    assert params["reasoning"] == {"effort": "max"}
    assert "include" not in params
    assert (params["temperature"], params["top_p"]) == (0.2, 0.9)
    assert list(params["input"]) == [{"role": "system", "content": "Answer in French."}]
    without_thinking = to_openai_responses_params(_call(provider_options={"openai": {"encrypted_reasoning": True}}))
    assert "reasoning" not in without_thinking
    assert without_thinking["include"] == ["reasoning.encrypted_content"]


def test_reasoning_without_encrypted_content_strips_message_ids() -> None:
    # OpenAI rejects a message item "provided without its required 'reasoning' item".
    turn = AssistantMessage(
        (
            ReasoningContent("", {"openai": {"itemId": "rs_1", "reasoningEncryptedContent": None}}),
            TextContent("Hi", {"openai": {"itemId": "msg_1"}}),
        )
    )
    params = to_openai_responses_params(_call(QUESTION, turn))
    assert list(params["input"])[1:] == [{"role": "assistant", "content": "Hi"}]


async def test_registry_builds_both_providers() -> None:
    for name, model_class in (("openai", "OpenAIResponsesModel"), ("openai-chat", "OpenAIChatModel")):
        model = create_model(ProviderConfig(provider=name))
        assert (model.provider, type(model).__name__) == (name, model_class)
        await model.aclose()


def test_fixture_folder_is_complete() -> None:
    # Guard against a transcript silently dropping out of the parametrised replay.
    assert len(STREAM_CASES) == 8
    assert len(cases("error_")) == len(ERROR_EXPECTATIONS) == 5
