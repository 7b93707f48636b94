"""Pure tests of the encoder and the assembler, checked against the AI SDK golden transcripts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from backend.aisdk.assemble import UIMessageAssembler
from backend.aisdk.chunks import validate_chunk
from backend.aisdk.encode import UIMessageStreamEncoder, sse_line, usage_to_aisdk
from backend.events import (
    ChatError,
    ChatEvent,
    ChatFinish,
    ReasoningDelta,
    ReasoningEnd,
    ReasoningStart,
    Source,
    StepEnd,
    StepStart,
    TextDelta,
    TextEnd,
    TextStart,
    ToolApprovalRequested,
    ToolCall,
    ToolDenied,
    ToolInputDelta,
    ToolInputStart,
    ToolResult,
    Usage,
)
from tests.sse import parse_sse

GOLDEN = Path(__file__).parent.parent / "fixtures" / "aisdk-golden"


def encode_all(events: list[ChatEvent], message_id: str | None = "m1") -> list[dict[str, Any]]:
    encoder = UIMessageStreamEncoder()
    chunks = [encoder.start(message_id, None)]
    for event in events:
        chunks.extend(encoder.encode(event))
    for chunk in chunks:
        validate_chunk(chunk)
    return chunks


REASONING_TOOLS_STEP = [
    StepStart(),
    ReasoningStart("0"),
    ReasoningDelta("0", "I need the weather tool."),
    ReasoningDelta("0", "", {"anthropic": {"signature": "sig-STEP1"}}),
    ReasoningEnd("0"),
    TextStart("1"),
    TextDelta("1", "Let me check."),
    TextEnd("1"),
    ToolInputStart("call_weather_2", "getWeather"),
    ToolInputDelta("call_weather_2", '{"city":'),
    ToolInputDelta("call_weather_2", '"Berlin"}'),
    ToolCall("call_weather_2", "getWeather", '{"city":"Berlin"}'),
    ToolResult("call_weather_2", {"city": "Berlin", "temperatureC": 21, "conditions": "sunny"}),
    StepEnd(),
    StepStart(),
    ReasoningStart("0"),
    ReasoningDelta("0", "Tool says 21°C."),
    ReasoningDelta("0", "", {"anthropic": {"signature": "sig-STEP2"}}),
    ReasoningEnd("0"),
    TextStart("0b"),
    TextDelta("0b", "Berlin: 21°C, sunny."),
    TextEnd("0b"),
    StepEnd(),
    ChatFinish("stop", Usage(10, 5)),
]


def normalise_ids(chunks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Part ids differ by design (ours: step-prefixed); compare everything else."""
    result = []
    for chunk in chunks:
        copy = {key: value for key, value in chunk.items() if key != "id"}
        result.append(copy)
    return result


def test_reasoning_tools_matches_golden_transcript() -> None:
    golden, _, _ = parse_sse((GOLDEN / "reasoning-tools.sse").read_text())
    ours = encode_all(REASONING_TOOLS_STEP, message_id=None)
    # Ours adds the usage message-metadata before finish; the rest is chunk for chunk the SDK's.
    assert ours[-2]["type"] == "message-metadata"
    assert normalise_ids(ours[:-2] + ours[-1:]) == normalise_ids(golden)


def test_part_ids_are_unique_across_steps() -> None:
    chunks = encode_all(REASONING_TOOLS_STEP)
    starts = [chunk["id"] for chunk in chunks if chunk["type"] in ("text-start", "reasoning-start")]
    assert len(starts) == len(set(starts))


def test_error_closes_open_parts_then_finishes_with_error() -> None:
    chunks = encode_all(
        [
            StepStart(),
            TextStart("0"),
            TextDelta("0", "Hel"),
            ChatError("anthropic: the service is overloaded", "overloaded", "anthropic"),
        ]
    )
    kinds = [chunk["type"] for chunk in chunks]
    assert kinds == [
        "start",
        "start-step",
        "text-start",
        "text-delta",
        "text-end",
        "data-error",
        "error",
        "finish-step",
        "finish",
    ]
    assert chunks[-1]["finishReason"] == "error"


def test_invalid_tool_json_becomes_tool_input_error() -> None:
    chunks = encode_all([StepStart(), ToolCall("c1", "search", '{"q": '), StepEnd()])
    error = chunks[2]
    assert error["type"] == "tool-input-error" and error["input"] == '{"q": ' and "JSON" in error["errorText"]


def test_empty_tool_input_is_an_empty_object() -> None:
    chunks = encode_all([StepStart(), ToolCall("c1", "now", ""), StepEnd()])
    assert chunks[2] == {"type": "tool-input-available", "toolCallId": "c1", "toolName": "now", "input": {}}


def test_optional_keys_are_omitted_not_null() -> None:
    chunks = encode_all([StepStart(), Source("s1", "https://example.com"), TextStart("0"), TextEnd("0"), StepEnd()])
    source = chunks[2]
    assert source == {"type": "source-url", "sourceId": "s1", "url": "https://example.com"}
    assert b"null" not in b"".join(sse_line(chunk) for chunk in chunks)


def test_validator_rejects_what_the_client_rejects() -> None:
    with pytest.raises(ValidationError):
        validate_chunk({"type": "text-start", "id": "x", "providerMetadata": None})
    with pytest.raises(ValidationError):
        validate_chunk({"type": "tool-output-available", "toolCallId": "c"})
    with pytest.raises(ValidationError):
        validate_chunk({"type": "finish", "finishReason": "end_turn"})
    with pytest.raises(ValidationError):
        validate_chunk({"type": "text-chunk", "id": "x"})
    validate_chunk({"type": "tool-output-available", "toolCallId": "c", "output": None})


def test_usage_shape_is_language_model_usage() -> None:
    shape = usage_to_aisdk(
        Usage(input_tokens=100, output_tokens=50, cache_read_tokens=60, cache_write_tokens=10, reasoning_tokens=20)
    )
    assert shape == {
        "inputTokens": 100,
        "outputTokens": 50,
        "totalTokens": 150,
        "inputTokenDetails": {"noCacheTokens": 30, "cacheReadTokens": 60, "cacheWriteTokens": 10},
        "outputTokenDetails": {"textTokens": 30, "reasoningTokens": 20},
    }


def test_assembler_builds_the_message_the_client_holds() -> None:
    assembler = UIMessageAssembler("m1")
    for chunk in encode_all(REASONING_TOOLS_STEP):
        assembler.add(chunk)
    message = assembler.message
    assert message["id"] == "m1"
    kinds = [part["type"] for part in message["parts"]]
    assert kinds == ["step-start", "reasoning", "text", "tool-getWeather", "step-start", "reasoning", "text"]
    reasoning = message["parts"][1]
    assert reasoning["providerMetadata"] == {"anthropic": {"signature": "sig-STEP1"}}
    assert reasoning["state"] == "done" and reasoning["text"] == "I need the weather tool."
    tool = message["parts"][3]
    assert tool["state"] == "output-available" and tool["input"] == {"city": "Berlin"}
    assert message["metadata"]["usage"]["inputTokens"] == 10
    assert assembler.finish_reason == "stop"


def test_assembler_continues_an_existing_message_for_approvals() -> None:
    base = {
        "id": "a1",
        "role": "assistant",
        "parts": [
            {"type": "step-start"},
            {
                "type": "tool-deleteFile",
                "toolCallId": "c1",
                "state": "approval-responded",
                "input": {"p": 1},
                "approval": {"id": "apr-1", "approved": False},
            },
        ],
    }
    assembler = UIMessageAssembler("a1", base)
    for chunk in encode_all(
        [
            ToolDenied("c1"),
            StepStart(),
            TextStart("0"),
            TextDelta("0", "OK."),
            TextEnd("0"),
            StepEnd(),
            ChatFinish("stop", Usage()),
        ]
    ):
        assembler.add(chunk)
    assert assembler.message["parts"][1]["state"] == "output-denied"
    assert [part["type"] for part in assembler.message["parts"]] == [
        "step-start",
        "tool-deleteFile",
        "step-start",
        "text",
    ]
    assert base["parts"][1]["state"] == "approval-responded"  # the base is copied, not mutated


def test_approval_request_marks_the_tool_part() -> None:
    assembler = UIMessageAssembler("m")
    for chunk in encode_all(
        [
            StepStart(),
            ToolCall("c1", "deleteFile", '{"path": "x"}'),
            ToolApprovalRequested("apr-1", "c1"),
            StepEnd(),
            ChatFinish("tool-calls", Usage()),
        ]
    ):
        assembler.add(chunk)
    part = assembler.message["parts"][1]
    assert part["state"] == "approval-requested" and part["approval"] == {"id": "apr-1"}


def test_golden_transcripts_validate() -> None:
    """Our validator accepts everything the AI SDK's own server code emitted."""
    files = sorted(GOLDEN.glob("*.sse"))
    assert files
    for path in files:
        chunks, _, _ = parse_sse(path.read_text())
        for chunk in chunks:
            if chunk["type"] in ("file", "reasoning-file", "custom", "source-document", "steering-message"):
                continue  # chunk types we never emit
            validate_chunk(chunk)
        json.dumps(chunks)
