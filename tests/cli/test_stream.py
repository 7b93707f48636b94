"""The client's stream reader (backend/cli/stream.py) on the AI SDK's own golden transcripts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from backend.cli.answer import answer_approval, pending_approvals
from backend.cli.render import settled_length
from backend.cli.stream import MessageAssembler, parse_sse_text

GOLDEN = Path(__file__).parents[1] / "fixtures" / "aisdk-golden"


def assemble(name: str) -> MessageAssembler:
    assembler = MessageAssembler()
    for chunk in parse_sse_text((GOLDEN / name).read_text()):
        assembler.add(chunk)
    return assembler


@pytest.mark.parametrize("name", sorted(path.name for path in GOLDEN.glob("*.sse")))
def test_every_golden_transcript_folds_without_unknown_chunks(name: str) -> None:
    assert assemble(name).unknown_types == []


def test_the_approval_follow_up_holds_the_message_exactly_as_use_chat_sends_it() -> None:
    assembler = assemble("approval-request.sse")
    [part] = pending_approvals(assembler.message)
    answer_approval(part, approved=True)
    sent = json.loads((GOLDEN / "request-approval-2.json").read_text())["body"]["messages"][-1]
    assert assembler.message["parts"] == sent["parts"]
    assert assembler.finish_reason == "tool-calls"


def test_reasoning_text_tools_and_errors() -> None:
    reasoning = assemble("reasoning.sse")
    assert [part["type"] for part in reasoning.parts] == ["step-start", "reasoning", "text"]
    assert reasoning.parts[1]["providerMetadata"]["anthropic"]["signature"]
    tools = assemble("tool-streamed-input.sse")
    tool = next(part for part in tools.parts if part["type"].startswith("tool-"))
    assert tool["state"] == "output-available" and tool["input"] is not None
    errored = assemble("error-chunk.sse")
    assert errored.error_text and errored.finish_reason == "error"
    assert assemble("abort.sse").aborted


def test_keepalive_comments_and_split_data_lines() -> None:
    body = ': stream-open\n\ndata: {"type":"start",\ndata: "messageId":"m1"}\n\n: keep-alive\n\ndata: [DONE]\n\n'
    assert parse_sse_text(body) == [{"type": "start", "messageId": "m1"}]


def test_settled_markdown_stops_before_an_open_code_fence() -> None:
    assert settled_length("one\n\ntwo", 0) == len("one\n\n")
    assert settled_length("one\n\n```\ncode\n\nmore", 0) == len("one\n\n")
    assert settled_length("```\na\n```\n\nnext", 0) == len("```\na\n```\n\n")
    assert settled_length("no break yet", 0) == 0
