"""The new ``ModelCall`` capabilities as each provider maps them (stop sequences, tool choice,
parallel calls), and the encoders' mappings that the SDK tests do not reach."""

from __future__ import annotations

import pytest

from backend.errors import ProviderError
from backend.events import ChatFinish, Finish, ReasoningDelta, ReasoningStart, ToolCall, Usage
from backend.gateway.anthropic_encode import AnthropicMessageEncoder, anthropic_usage
from backend.gateway.openai_encode import ChatCompletionEncoder
from backend.messages import TextContent, ToolChoice, ToolDefinition, UserMessage
from backend.providers.anthropic_params import to_anthropic_params
from backend.providers.base import ModelCall
from backend.providers.google_params import to_google_config
from backend.providers.openai_chat import to_openai_chat_params
from backend.providers.openai_responses import to_openai_responses_params

TOOL = ToolDefinition("weather", "Weather", {"type": "object"})


def call(**fields: object) -> ModelCall:
    return ModelCall("m", (UserMessage((TextContent("hi"),)),), tools=(TOOL,), **fields)  # type: ignore[arg-type]


def test_forced_tool_and_serial_calls_per_provider() -> None:
    forced = call(tool_choice=ToolChoice("tool", "weather"), parallel_tool_calls=False)
    assert to_anthropic_params(forced)["tool_choice"] == {
        "type": "tool",
        "name": "weather",
        "disable_parallel_tool_use": True,
    }
    chat = to_openai_chat_params(forced)
    assert chat["tool_choice"] == {"type": "function", "function": {"name": "weather"}}
    assert chat["parallel_tool_calls"] is False
    responses = to_openai_responses_params(forced)
    assert responses["tool_choice"] == {"type": "function", "name": "weather"}
    config = to_google_config(forced)
    assert config["tool_config"] == {"function_calling_config": {"mode": "ANY", "allowed_function_names": ["weather"]}}
    assert to_anthropic_params(call(tool_choice=ToolChoice("none")))["tool_choice"] == {"type": "none"}


def test_stop_sequences_per_provider() -> None:
    stopping = call(stop_sequences=("END",))
    assert to_anthropic_params(stopping)["stop_sequences"] == ["END"]
    assert to_openai_chat_params(stopping)["stop"] == ["END"]
    assert to_google_config(stopping)["stop_sequences"] == ["END"]
    with pytest.raises(ProviderError) as refused:
        to_openai_responses_params(stopping)
    assert refused.value.category == "bad_request" and "stop sequences" in refused.value.public_message


def test_nothing_new_is_sent_by_default() -> None:
    plain = call()
    assert "tool_choice" not in to_anthropic_params(plain) and "stop_sequences" not in to_anthropic_params(plain)
    assert "tool_choice" not in to_openai_chat_params(plain) and "stop" not in to_openai_chat_params(plain)
    assert "tool_config" not in to_google_config(plain)


def test_openai_tool_call_sent_whole_gets_its_arguments() -> None:
    encoder = ChatCompletionEncoder("id", "m", 1)
    chunks = encoder.encode(ToolCall("call-1", "weather", '{"location":"Rome"}'))
    assert chunks[0]["choices"][0]["delta"]["tool_calls"][0]["id"] == "call-1"
    assert chunks[1]["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"] == '{"location":"Rome"}'
    encoder.encode(ChatFinish("tool-calls", Usage(10, 5, reasoning_tokens=3)))
    completion = encoder.completion()
    assert completion["choices"][0]["finish_reason"] == "tool_calls"
    assert completion["usage"]["completion_tokens_details"] == {"reasoning_tokens": 3}


def test_anthropic_finish_and_usage_mapping() -> None:
    encoder = AnthropicMessageEncoder("id", "m")
    encoder.encode(ReasoningStart("r"))
    encoder.encode(ReasoningDelta("r", "because"))
    encoder.encode(Finish("length", raw_reason="length"))
    events = encoder.encode(ChatFinish("length", Usage(100, 7, cache_read_tokens=60, cache_write_tokens=10)))
    delta = next(data for name, data in events if name == "message_delta")
    assert delta["delta"]["stop_reason"] == "max_tokens"
    assert delta["usage"] == anthropic_usage(Usage(100, 7, cache_read_tokens=60, cache_write_tokens=10))
    assert delta["usage"]["input_tokens"] == 30
    assert encoder.message()["content"] == [{"type": "thinking", "thinking": "because", "signature": ""}]
    stop_sequence = AnthropicMessageEncoder("id", "m")
    stop_sequence.encode(Finish("stop", raw_reason="stop_sequence"))
    stop_sequence.encode(ChatFinish("stop", Usage()))
    assert stop_sequence.message()["stop_reason"] == "stop_sequence"
