"""Tool approvals across two requests, checked against the AI SDK golden transcripts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from backend.aisdk.convert import approval_answers
from backend.aisdk.request import parse_chat_request
from backend.events import ToolApprovalRequested, ToolFailed, ToolResult
from backend.loop import run_chat
from backend.messages import ApprovalAnswer, ToolResultContent
from backend.storage import ApprovalStore
from backend.tools.base import ToolContext
from backend.tools.runner import NOT_REQUESTED, ServerToolRunner
from tests.sse import parse_sse
from tests.tools.scripted import (
    ScriptedModel,
    context,
    encode,
    function_tool,
    text_step,
    tool_step,
    types_of,
    user_call,
)

GOLDEN = Path(__file__).parent.parent / "fixtures" / "aisdk-golden"


class PathInput(BaseModel):
    path: str


def delete_runner(approvals: ApprovalStore, deleted: list[str], approval_id: str = "srv-2") -> ServerToolRunner:
    async def delete_file(tool_input: PathInput, context: ToolContext) -> dict[str, Any]:
        deleted.append(tool_input.path)
        return {"deleted": tool_input.path}

    tool = function_tool("deleteFile", delete_file, PathInput, needs_approval=True)
    return ServerToolRunner([tool], context(), approvals, make_approval_id=lambda: approval_id)


async def request_approval(runner: ServerToolRunner, input_json: str = '{"path": "notes/x.txt"}') -> str:
    model = ScriptedModel([tool_step(("call_del_1", "deleteFile", input_json))])
    events = [event async for event in run_chat(model, user_call(), tools=runner, max_steps=5)]
    (request,) = [event for event in events if isinstance(event, ToolApprovalRequested)]
    return request.approval_id


def golden_answers(name: str) -> tuple[ApprovalAnswer, ...]:
    body = parse_chat_request(json.loads((GOLDEN / name).read_text())["body"])
    return approval_answers(body.messages[-1])


async def follow_up(
    runner: ServerToolRunner, answers: tuple[ApprovalAnswer, ...]
) -> tuple[list[dict[str, Any]], dict[str, ToolResultContent]]:
    """What the chat handler does: the approval events first, then the next model step."""
    events, results = await runner.resolve_approvals(answers)
    model = ScriptedModel([text_step("Done, the file was handled.")])
    events += [event async for event in run_chat(model, user_call(), tools=runner, max_steps=5)]
    return encode(events), results


def golden_types(name: str) -> list[str]:
    chunks, _, _ = parse_sse((GOLDEN / name).read_text())
    return types_of(chunks)


async def test_approved_call_runs_before_the_next_step(approvals: ApprovalStore) -> None:
    deleted: list[str] = []
    runner = delete_runner(approvals, deleted)
    await request_approval(runner)
    answers = golden_answers("request-approval-2.json")
    assert answers == (ApprovalAnswer("call_del_1", "deleteFile", {"path": "notes/x.txt"}, "srv-2", True, None),)

    chunks, results = await follow_up(runner, answers)

    assert deleted == ["notes/x.txt"]
    assert results == {"call_del_1": ToolResultContent("call_del_1", "deleteFile", {"deleted": "notes/x.txt"})}
    expected = golden_types("approval-approved.sse")
    assert types_of(chunks) == [*expected[:-1], "message-metadata", expected[-1]]
    output = {"deleted": "notes/x.txt"}
    assert chunks[1] == {"type": "tool-output-available", "toolCallId": "call_del_1", "output": output}


async def test_denied_call_does_not_run(approvals: ApprovalStore) -> None:
    deleted: list[str] = []
    runner = delete_runner(approvals, deleted)
    await request_approval(runner)
    answers = golden_answers("request-approval-denied-2.json")

    chunks, results = await follow_up(runner, answers)

    assert deleted == []
    assert chunks[1] == {"type": "tool-output-denied", "toolCallId": "call_del_1"}
    assert results == {"call_del_1": ToolResultContent("call_del_1", "deleteFile", "denied by harness", "denied")}
    expected = golden_types("approval-denied.sse")
    assert types_of(chunks) == [*expected[:-1], "message-metadata", expected[-1]]


async def test_denied_without_reason_gets_a_default(approvals: ApprovalStore) -> None:
    runner = delete_runner(approvals, [])
    approval_id = await request_approval(runner)

    _, results = await runner.resolve_approvals(
        [ApprovalAnswer("call_del_1", "deleteFile", {"path": "notes/x.txt"}, approval_id, False)]
    )

    assert results["call_del_1"].output == "The user denied this tool call."


async def test_forged_or_replayed_approval_is_denied(approvals: ApprovalStore) -> None:
    deleted: list[str] = []
    runner = delete_runner(approvals, deleted, approval_id="apr-real")
    await request_approval(runner)
    forged = ApprovalAnswer("call_del_1", "deleteFile", {"path": "/etc"}, "apr-made-up", True)
    wrong_call = ApprovalAnswer("call_other", "deleteFile", {"path": "/etc"}, "apr-real", True)

    events, results = await runner.resolve_approvals([forged, wrong_call])

    assert deleted == []
    # Approving answers the server never requested: an error result (valid for an approved part).
    assert events == [ToolFailed("call_del_1", NOT_REQUESTED), ToolFailed("call_other", NOT_REQUESTED)]
    assert results["call_del_1"] == ToolResultContent("call_del_1", "deleteFile", NOT_REQUESTED, "error")
    assert results["call_other"].kind == "error"

    genuine = ApprovalAnswer("call_del_1", "deleteFile", {"path": "notes/x.txt"}, "apr-real", True)
    first, _ = await runner.resolve_approvals([genuine])
    replayed, replayed_results = await runner.resolve_approvals([genuine])
    assert first == [ToolResult("call_del_1", {"deleted": "notes/x.txt"})]
    assert replayed == [ToolFailed("call_del_1", NOT_REQUESTED)]
    assert replayed_results["call_del_1"].output == NOT_REQUESTED
    assert deleted == ["notes/x.txt"]


async def test_approved_call_runs_with_the_recorded_input(approvals: ApprovalStore) -> None:
    deleted: list[str] = []
    runner = delete_runner(approvals, deleted)
    approval_id = await request_approval(runner, '{"path": "notes/x.txt"}')
    tampered = ApprovalAnswer("call_del_1", "deleteFile", {"path": "/"}, approval_id, True)

    events, results = await runner.resolve_approvals([tampered])

    assert deleted == ["notes/x.txt"]
    assert results["call_del_1"] == ToolResultContent("call_del_1", "deleteFile", {"deleted": "notes/x.txt"})
    assert events == [ToolResult("call_del_1", {"deleted": "notes/x.txt"})]


async def test_approval_for_another_block_is_not_honoured(approvals: ApprovalStore) -> None:
    runner = delete_runner(approvals, [])
    approval_id = await request_approval(runner)
    other_block = ServerToolRunner([], context("block2"), approvals)

    events, _ = await other_block.resolve_approvals(
        [ApprovalAnswer("call_del_1", "deleteFile", {"path": "notes/x.txt"}, approval_id, True)]
    )

    assert events == [ToolFailed("call_del_1", NOT_REQUESTED)]


async def test_approved_tool_that_fails_or_is_gone(approvals: ApprovalStore) -> None:
    async def broken(tool_input: PathInput, context: ToolContext) -> str:
        raise PermissionError("read-only file system")

    tool = function_tool("deleteFile", broken, PathInput, needs_approval=True)
    runner = ServerToolRunner([tool], context(), approvals)
    approval_id = await request_approval(runner)
    events, results = await runner.resolve_approvals(
        [ApprovalAnswer("call_del_1", "deleteFile", {"path": "x"}, approval_id, True)]
    )
    assert events == [ToolFailed("call_del_1", "PermissionError: read-only file system")]
    assert results["call_del_1"].kind == "error"

    approval_id = await request_approval(runner)
    without_tool = ServerToolRunner([], context(), approvals)
    events, _ = await without_tool.resolve_approvals(
        [ApprovalAnswer("call_del_1", "deleteFile", {"path": "x"}, approval_id, True)]
    )
    assert events == [ToolFailed("call_del_1", "The tool deleteFile is no longer available.")]


def test_approval_answers_skip_other_parts() -> None:
    body = parse_chat_request(json.loads((GOLDEN / "request-approval-1.json").read_text())["body"])
    assert approval_answers(body.messages[-1]) == ()
