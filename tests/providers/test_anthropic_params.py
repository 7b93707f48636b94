"""``to_anthropic_params``: request params and history conversion (pure functions, no I/O).

The recorded round trips (thinking_tool_use, parallel_tool_calls) are checked on the wire in
test_anthropic.py; these cover the rules around them.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from backend.errors import ProviderError
from backend.events import JsonValue
from backend.messages import (
    AssistantMessage,
    FileContent,
    Message,
    ProviderToolResultContent,
    ReasoningContent,
    SystemMessage,
    TextContent,
    ToolCallContent,
    ToolDefinition,
    ToolMessage,
    ToolResultContent,
    UserMessage,
)
from backend.providers.anthropic import to_anthropic_params
from backend.providers.base import ModelCall, ThinkingSettings

HELLO = UserMessage((TextContent("hello"),))
WEATHER = ToolDefinition("weather", "Get the weather", {"type": "object", "properties": {}})
CLOCK = ToolDefinition("clock", "", {"type": "object"})


def _params(*messages: Message, **fields: Any) -> dict[str, Any]:
    call = ModelCall(model="claude-sonnet-4-6", messages=messages or (HELLO,), **fields)
    return dict(to_anthropic_params(call))


def _messages(*messages: Message) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = _params(*messages)["messages"]
    return result


def test_minimal_call() -> None:
    assert _params() == {
        "model": "claude-sonnet-4-6",
        "max_tokens": 4096,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hello"}]}],
        "stream": True,
    }


def test_prompt_caching_marks_the_last_system_block_and_the_last_tool() -> None:
    web_search = {"type": "web_search_20250305", "name": "web_search", "max_uses": 3}
    params = _params(
        SystemMessage("Be brief."),
        HELLO,
        system="You are helpful.",
        tools=(WEATHER, CLOCK),
        provider_options={"anthropic": {"server_tools": [web_search]}},
    )
    assert params["system"] == [
        {"type": "text", "text": "You are helpful."},
        {"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}},
    ]
    assert params["tools"] == [
        {"name": "weather", "description": "Get the weather", "input_schema": WEATHER.input_schema},
        {"name": "clock", "input_schema": {"type": "object"}},  # empty description left out
        {**web_search, "cache_control": {"type": "ephemeral"}},
    ]
    assert params["messages"] == [{"role": "user", "content": [{"type": "text", "text": "hello"}]}]


def test_prompt_caching_can_be_turned_off() -> None:
    params = _params(
        system="You are helpful.", tools=(WEATHER,), provider_options={"anthropic": {"prompt_caching": False}}
    )
    assert "cache_control" not in json.dumps(params)
    assert params["system"] == [{"type": "text", "text": "You are helpful."}]


def test_server_tools_must_be_a_list_of_objects() -> None:
    with pytest.raises(ProviderError, match="server_tools"):
        _params(provider_options={"anthropic": {"server_tools": "web_search"}})


@pytest.mark.parametrize(
    ("budget", "max_tokens", "expected_thinking", "expected_max_tokens"),
    [
        (2048, 4096, {"type": "enabled", "budget_tokens": 2048}, 4096),
        (500, 4096, {"type": "enabled", "budget_tokens": 1024}, 4096),  # the API minimum
        (8000, 4096, {"type": "enabled", "budget_tokens": 8000}, 12096),  # budget must be < max_tokens
        (None, 4096, {"type": "adaptive"}, 4096),
    ],
)
def test_thinking_budget(
    budget: int | None, max_tokens: int, expected_thinking: dict[str, Any], expected_max_tokens: int
) -> None:
    thinking = ThinkingSettings(enabled=True, budget_tokens=budget)
    params = _params(thinking=thinking, max_tokens=max_tokens, temperature=0.5, top_p=0.9)
    assert params["thinking"] == expected_thinking
    assert params["max_tokens"] == expected_max_tokens
    assert "extra_body" not in params  # no temperature / top_p with thinking: the API rejects them


def test_sampling_params_without_thinking_go_through_extra_body() -> None:
    assert _params(temperature=0.5, top_p=0.9)["extra_body"] == {"temperature": 0.5, "top_p": 0.9}
    assert _params(temperature=0.0)["extra_body"] == {"temperature": 0.0}


def test_thinking_display_and_effort() -> None:
    params = _params(
        thinking=ThinkingSettings(enabled=True, effort="minimal"),
        provider_options={"anthropic": {"thinking_display": "omitted"}},
    )
    assert params["thinking"] == {"type": "adaptive", "display": "omitted"}
    assert params["output_config"] == {"effort": "low"}  # Anthropic has no "minimal"
    assert _params(thinking=ThinkingSettings(effort="xhigh"))["output_config"] == {"effort": "xhigh"}
    assert "thinking" not in _params(thinking=ThinkingSettings(effort="xhigh"))


def test_an_invalid_thinking_display_is_a_request_error() -> None:
    with pytest.raises(ProviderError, match="thinking_display"):
        _params(provider_options={"anthropic": {"thinking_display": "full"}})


# ---------------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------------

PNG = b"\x89PNG\r\n\x1a\n-not-really"
PNG_B64 = base64.b64encode(PNG).decode()


@pytest.mark.parametrize(
    ("file", "block"),
    [
        (
            FileContent("image/png", data=PNG),
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG_B64}},
        ),
        (
            FileContent("image/heic", url="https://example.com/cat.heic"),
            {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.heic"}},
        ),
        (
            FileContent("application/pdf", data=b"%PDF-1.7", filename="a.pdf"),
            {
                "type": "document",
                "title": "a.pdf",
                "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0xLjc="},
            },
        ),
        (
            FileContent("application/pdf", url="https://example.com/a.pdf"),
            {"type": "document", "source": {"type": "url", "url": "https://example.com/a.pdf"}},
        ),
        (
            FileContent("text/plain", data="héllo".encode()),
            {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "héllo"}},
        ),
        (
            FileContent("text/markdown", data=b"# notes", filename="notes.md"),
            {
                "type": "document",
                "title": "notes.md",
                "source": {"type": "text", "media_type": "text/plain", "data": "# notes"},
            },
        ),
    ],
)
def test_supported_files(file: FileContent, block: dict[str, Any]) -> None:
    [message] = _messages(UserMessage((file, TextContent("what is this?"))))
    assert message["content"] == [block, {"type": "text", "text": "what is this?"}]


@pytest.mark.parametrize(
    "file",
    [
        FileContent("audio/mpeg", data=b"ID3", part_path="messages[0].parts[1]"),
        FileContent("image/tiff", data=b"II*", part_path="messages[0].parts[1]"),
        FileContent("text/plain", url="https://example.com/a.txt", part_path="messages[0].parts[1]"),
    ],
)
def test_unsupported_files_name_the_part(file: FileContent) -> None:
    with pytest.raises(ProviderError) as caught:
        _messages(UserMessage((file,)))
    assert caught.value.code == "unsupported_file" and caught.value.category == "bad_request"
    assert "messages[0].parts[1]" in caught.value.public_message


# ---------------------------------------------------------------------------------------------
# History
# ---------------------------------------------------------------------------------------------


def test_reasoning_goes_back_only_with_anthropic_metadata() -> None:
    assistant = AssistantMessage(
        (
            ReasoningContent("mine", {"anthropic": {"signature": "sig=="}}),
            ReasoningContent("", {"anthropic": {"redactedData": "opaque"}}),
            ReasoningContent("theirs", {"openai": {"itemId": "rs_1", "reasoningEncryptedContent": "x"}}),
            ReasoningContent("unsigned"),
            TextContent("answer"),
            TextContent(""),  # the API rejects empty text blocks
        )
    )
    assert _messages(HELLO, assistant)[1] == {
        "role": "assistant",
        "content": [
            {"type": "thinking", "thinking": "mine", "signature": "sig=="},
            {"type": "redacted_thinking", "data": "opaque"},
            {"type": "text", "text": "answer"},
        ],
    }


def test_roles_keep_alternating_when_an_assistant_turn_has_nothing_to_send() -> None:
    foreign_only = AssistantMessage((ReasoningContent("thoughts", {"google": {"thoughtSignature": "AAAA"}}),))
    messages = _messages(HELLO, foreign_only, UserMessage((TextContent("again"),)))
    assert messages == [
        {"role": "user", "content": [{"type": "text", "text": "hello"}, {"type": "text", "text": "again"}]}
    ]


def test_tool_results_in_one_user_message_merged_with_the_next_user_turn() -> None:
    calls = AssistantMessage(
        (
            ToolCallContent("toolu_1", "weather", {"city": "Rome"}),
            ToolCallContent("toolu_2", "weather", "not json"),  # input must be an object
            ToolCallContent("toolu_3", "clock", {}),
        )
    )
    results = ToolMessage(
        (
            ToolResultContent("toolu_1", "weather", {"celsius": 31}),
            ToolResultContent("toolu_2", "weather", "invalid input", kind="error"),
            ToolResultContent("toolu_3", "clock", None, kind="denied"),
        )
    )
    messages = _messages(HELLO, calls, results, UserMessage((TextContent("and tomorrow?"),)))
    assert [block["input"] for block in messages[1]["content"]] == [{"city": "Rome"}, {}, {}]
    assert messages[2] == {
        "role": "user",
        "content": [
            {"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": '{"celsius": 31}'}]},
            {
                "type": "tool_result",
                "tool_use_id": "toolu_2",
                "is_error": True,
                "content": [{"type": "text", "text": "invalid input"}],
            },
            {
                "type": "tool_result",
                "tool_use_id": "toolu_3",
                "is_error": True,
                "content": [{"type": "text", "text": "The user denied this tool call."}],
            },
            {"type": "text", "text": "and tomorrow?"},
        ],
    }
    assert len(messages) == 3


def test_tool_result_outputs() -> None:
    mcp_output: list[JsonValue] = [
        {"type": "text", "text": "a chart"},
        {"type": "image", "data": "AAAA", "mimeType": "image/png"},
    ]
    calls = AssistantMessage(tuple(ToolCallContent(f"toolu_{n}", "t", {}) for n in range(4)))
    results = ToolMessage(
        (
            ToolResultContent("toolu_0", "t", mcp_output),
            ToolResultContent("toolu_1", "t", ""),
            ToolResultContent("toolu_2", "t", "ok"),
            ToolResultContent("toolu_3", "t", [{"type": "unknown"}]),
        )
    )
    blocks = _messages(HELLO, calls, results)[2]["content"]
    assert blocks[0]["content"] == [
        {"type": "text", "text": "a chart"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}},
    ]
    assert "content" not in blocks[1]  # an empty text block would be rejected
    assert blocks[2]["content"] == [{"type": "text", "text": "ok"}]
    assert blocks[3]["content"] == [{"type": "text", "text": '[{"type": "unknown"}]'}]


def test_server_tools_go_back_only_when_anthropic_ran_them() -> None:
    results: list[JsonValue] = [
        {"type": "web_search_result", "url": "https://a.example", "title": "A", "encrypted_content": "E"}
    ]
    assistant = AssistantMessage(
        (
            ToolCallContent("srvtoolu_1", "web_search", {"query": "q"}, provider_executed=True),
            ProviderToolResultContent("srvtoolu_1", "web_search", results),
            # OpenAI's web search has the same tool name but is not ours to replay.
            ToolCallContent("ws_2", "web_search", {"query": "q"}, {"openai": {"itemId": "ws_2"}}, True),
            ProviderToolResultContent("ws_2", "web_search", {"status": "completed"}),
            FileContent("image/png", data=PNG),  # a generated image: not assistant input here
            TextContent("Found it."),
        )
    )
    assert _messages(HELLO, assistant)[1]["content"] == [
        {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {"query": "q"}},
        {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": results},
        {"type": "text", "text": "Found it."},
    ]
