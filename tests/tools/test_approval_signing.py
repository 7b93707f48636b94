"""Signed approvals in the tool runner: a missing or wrong signature is refused before the store
is asked (so a forged answer does not use up the real request); the right one runs the tool.
(The scheme itself is checked against the ``ai`` package in tests/conformance/test_clients.py.)"""

from __future__ import annotations

import dataclasses
from typing import Any

from pydantic import BaseModel

from backend.events import ToolApprovalRequested, ToolFailed, ToolResult
from backend.loop import run_chat
from backend.messages import ApprovalAnswer
from backend.storage import ApprovalStore
from backend.tools.approval_signing import ApprovalSigner
from backend.tools.base import ToolContext
from backend.tools.runner import BAD_SIGNATURE, ServerToolRunner
from tests.tools.scripted import ScriptedModel, context, function_tool, tool_step, user_call

SECRET = "unit-test-approval-secret-0123"


class PathInput(BaseModel):
    path: str


async def test_only_a_valid_signature_runs_the_tool(approvals: ApprovalStore) -> None:
    deleted: list[str] = []

    async def delete_file(tool_input: PathInput, context: ToolContext) -> dict[str, Any]:
        deleted.append(tool_input.path)
        return {"deleted": tool_input.path}

    tool = function_tool("deleteFile", delete_file, PathInput, needs_approval=True)
    runner = ServerToolRunner([tool], context(), approvals, signer=ApprovalSigner(SECRET))
    model = ScriptedModel([tool_step(("call_1", "deleteFile", '{"path": "a.txt"}'))])
    events = [event async for event in run_chat(model, user_call(), tools=runner, max_steps=2)]
    (request,) = [event for event in events if isinstance(event, ToolApprovalRequested)]
    assert request.signature is not None
    assert ApprovalSigner(SECRET).verify(
        request.signature, request.approval_id, "call_1", "deleteFile", {"path": "a.txt"}
    )

    answer = ApprovalAnswer("call_1", "deleteFile", {"path": "a.txt"}, request.approval_id, True)
    # One character changed, and never to itself: the real signature may start with "x" (CI once
    # drew exactly that and "forged" the true signature).
    altered_first = "y" if request.signature[0] == "x" else "x"
    for forged in (
        answer,  # no signature
        dataclasses.replace(answer, signature=altered_first + request.signature[1:]),
        dataclasses.replace(answer, signature=request.signature, input={"path": "b.txt"}),  # input changed
    ):
        refused, results = await runner.resolve_approvals((forged,))
        assert refused == [ToolFailed("call_1", BAD_SIGNATURE)] and results["call_1"].kind == "error"
    assert deleted == []

    ran, _ = await runner.resolve_approvals((dataclasses.replace(answer, signature=request.signature),))
    assert [type(event) for event in ran] == [ToolResult] and deleted == ["a.txt"]
