"""``ServerToolRunner``: the loop's ``ToolRunner`` for one request, and the approval follow-up.

Per step (``run``), for each tool call, in call order:

* a call to a tool the server does not own is a **client tool**: the browser runs it, so it
  gets no result here (``useChat`` calls ``onToolCall``) and the answer ends;
* the input is parsed and validated; a bad input becomes ``ToolInputInvalid`` and an error
  result, so the model can correct itself in the next step;
* a tool that **needs approval** (its own flag, the preset's ``approval_required``, or its MCP
  server's flag) is recorded in the ``ApprovalStore`` under a server-made id and announced with
  ``ToolApprovalRequested``; the answer ends and the user's decision comes in the next request
  (``resolve_approvals``). The server honours only approvals it requested, for the input it
  recorded: a client cannot approve a call the model never made, or change its input. With an
  approval secret, the request also carries the AI SDK's signature and an answer without a
  valid one is refused before the store is asked (``approval_signing.py``);
* every other call runs now, all of them in parallel, each with its timeout.

If every call got a result, the tool message goes back to the model (the loop calls it again);
otherwise ``None`` ends the answer with finish reason ``tool-calls`` (protocol §1.6, §1.7).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncIterator, Callable, Collection, Iterable, Sequence
from typing import Any, Protocol

from backend.events import (
    ChatEvent,
    ToolApprovalRequested,
    ToolCall,
    ToolDenied,
    ToolFailed,
    ToolInputInvalid,
    parse_tool_input,
)
from backend.messages import ApprovalAnswer, PendingApproval, ToolDefinition, ToolMessage, ToolResultContent
from backend.tools.approval_signing import ApprovalSigner
from backend.tools.base import Tool, ToolContext, tools_by_name
from backend.tools.execute import ToolJob, execute_all, parse_call_input, result_content

logger = logging.getLogger(__name__)

DENIED_BY_USER = "The user denied this tool call."
NOT_REQUESTED = (
    "This tool call was not run: the server has no pending approval request with this id "
    "(it was never requested, or it was already answered)."
)
BAD_SIGNATURE = "This tool call was not run: the approval's signature is missing or does not match the request."


def new_approval_id() -> str:
    return "apr-" + secrets.token_urlsafe(16)


class ApprovalLedger(Protocol):
    """Where approval requests are recorded and answered once (the store implements it)."""

    async def record(self, approval: PendingApproval) -> None: ...

    async def take(self, block_id: str, approval_id: str, tool_call_id: str, answer: str) -> PendingApproval | None: ...


class ServerToolRunner:
    """Runs the server-side tools of one request (build one per request).

    ``client_tool_names``: the tools the browser declared. ``None`` means "any name the server
    does not own is the client's"; with a collection, a call to a name in neither set is
    answered with an error result so the model can recover, instead of ending the answer.
    """

    def __init__(
        self,
        tools: Iterable[Tool[Any]],
        context: ToolContext,
        approvals: ApprovalLedger,
        *,
        approval_required: Collection[str] = (),
        client_tool_names: Collection[str] | None = None,
        make_approval_id: Callable[[], str] = new_approval_id,
        signer: ApprovalSigner | None = None,
    ) -> None:
        self._tools = tools_by_name(tools)
        self._context = context
        self._approvals = approvals
        self._approval_required = frozenset(approval_required)
        self._client_tool_names = None if client_tool_names is None else frozenset(client_tool_names)
        self._make_approval_id = make_approval_id
        self._signer = signer

    def definitions(self) -> tuple[ToolDefinition, ...]:
        """The server tools as the model sees them (add the client's tools for ``ModelCall.tools``)."""
        return tuple(tool.definition() for tool in self._tools.values())

    def needs_approval(self, tool: Tool[Any]) -> bool:
        return tool.needs_approval or tool.name in self._approval_required

    def _is_client_tool(self, name: str) -> bool:
        return self._client_tool_names is None or name in self._client_tool_names

    async def run(self, calls: Sequence[ToolCall], sink: list[ToolMessage | None]) -> AsyncIterator[ChatEvent]:
        """The loop's ``ToolRunner.run``: events now, and through ``sink`` the tool message or ``None``."""
        results: dict[str, ToolResultContent] = {}
        jobs: list[ToolJob] = []
        waiting = False  # some call is answered elsewhere: by the browser or by the user's approval
        for call in calls:
            tool = self._tools.get(call.tool_name)
            if tool is None:
                if self._is_client_tool(call.tool_name):
                    waiting = True
                else:
                    value, json_error = parse_tool_input(call.input_json)
                    text = self._unknown_tool_text(call.tool_name)
                    results[call.tool_call_id] = ToolResultContent(call.tool_call_id, call.tool_name, text, "error")
                    if json_error is None:  # bad JSON: the encoder already sent tool-input-error
                        yield ToolInputInvalid(call.tool_call_id, call.tool_name, value, text)
                continue
            parsed = parse_call_input(tool, call.input_json)
            if parsed.error_text is not None:
                results[call.tool_call_id] = ToolResultContent(
                    call.tool_call_id, call.tool_name, parsed.error_text, "error"
                )
                if not parsed.bad_json:
                    yield ToolInputInvalid(call.tool_call_id, call.tool_name, parsed.value, parsed.error_text)
                continue
            if self.needs_approval(tool):
                yield await self._request_approval(call)
                waiting = True
                continue
            jobs.append(ToolJob(call.tool_call_id, tool, parsed.tool_input))
        names = {call.tool_call_id: call.tool_name for call in calls}
        async for outcome in execute_all(jobs, self._context):
            results[outcome.tool_call_id] = result_content(outcome, names[outcome.tool_call_id])
            yield outcome
        if waiting:
            sink.append(None)
        else:
            sink.append(ToolMessage(tuple(results[call.tool_call_id] for call in calls)))

    def _unknown_tool_text(self, name: str) -> str:
        available = sorted({*self._tools, *(self._client_tool_names or ())})
        return f"Unknown tool {name!r}. Available tools: {', '.join(available) or '(none)'}."

    async def _request_approval(self, call: ToolCall) -> ToolApprovalRequested:
        approval_id = self._make_approval_id()
        # The raw input is what will run once approved, whatever the client sends back.
        block_id = self._context.block_id
        pending = PendingApproval(approval_id, block_id, call.tool_call_id, call.tool_name, call.input_json)
        await self._approvals.record(pending)
        signature = None
        if self._signer is not None:
            # Over the input as the client will hold it (the parsed JSON of the call).
            value, _ = parse_tool_input(call.input_json)
            signature = self._signer.sign(approval_id, call.tool_call_id, call.tool_name, value)
        return ToolApprovalRequested(approval_id, call.tool_call_id, signature)

    async def resolve_approvals(
        self, answers: Sequence[ApprovalAnswer]
    ) -> tuple[list[ChatEvent], dict[str, ToolResultContent]]:
        """Honour the user's answers before the next model step.

                Each answer is checked against the store (``take`` marks it answered, so it works once).
                Approved calls run (in parallel) with the input the server recorded; denied ones, and
                answers to approvals the server never requested, become ``ToolDenied`` and a denied
                result (an approving answer the server never requested becomes ``ToolFailed``, so the client's
        part stays valid). Returns the events to emit *before* the next ``start-step`` and the results by
                tool call id, for the history conversion.
        """
        events: dict[str, ChatEvent] = {}
        results: dict[str, ToolResultContent] = {}
        jobs: list[ToolJob] = []
        names: dict[str, str] = {}
        for answer in answers:
            call_id = answer.tool_call_id
            status = "approved" if answer.approved else "denied"
            if not self._signed(answer):
                # Refused before the store: a forged answer does not use up the real request.
                logger.warning(
                    "block %s: approval %r has no valid signature", self._context.block_id, answer.approval_id
                )
                events[call_id] = ToolFailed(call_id, BAD_SIGNATURE) if answer.approved else ToolDenied(call_id)
                results[call_id] = ToolResultContent(call_id, answer.tool_name, BAD_SIGNATURE, "error")
                continue
            pending = await self._approvals.take(self._context.block_id, answer.approval_id, call_id, status)
            if pending is None or pending.tool_name != answer.tool_name:
                logger.warning(
                    "block %s: ignoring an answer to approval %r (call %s) the server did not request or "
                    "already answered; treating it as denied",
                    self._context.block_id,
                    answer.approval_id,
                    call_id,
                )
                if answer.approved:
                    # Issue 11: the client holds this part as approved; ``tool-output-denied`` would
                    # leave it ``output-denied`` with ``approved: true``, which the AI SDK's
                    # validateUIMessages rejects. ``output-error`` is valid with an approved
                    # approval, and says what happened. The tool does not run either way.
                    events[call_id] = ToolFailed(call_id, NOT_REQUESTED)
                    results[call_id] = ToolResultContent(call_id, answer.tool_name, NOT_REQUESTED, "error")
                else:
                    events[call_id] = ToolDenied(call_id)
                    results[call_id] = ToolResultContent(call_id, answer.tool_name, NOT_REQUESTED, "denied")
            elif not answer.approved:
                events[call_id] = ToolDenied(call_id)
                reason = answer.reason or DENIED_BY_USER
                results[call_id] = ToolResultContent(call_id, answer.tool_name, reason, "denied")
            else:
                names[call_id] = pending.tool_name
                job_or_failure = self._approved_job(pending)
                if isinstance(job_or_failure, ToolFailed):
                    events[call_id] = job_or_failure
                    results[call_id] = result_content(job_or_failure, pending.tool_name)
                else:
                    jobs.append(job_or_failure)
        async for outcome in execute_all(jobs, self._context):
            events[outcome.tool_call_id] = outcome
            results[outcome.tool_call_id] = result_content(outcome, names[outcome.tool_call_id])
        ordered = [events[answer.tool_call_id] for answer in answers if answer.tool_call_id in events]
        return ordered, results

    def _signed(self, answer: ApprovalAnswer) -> bool:
        if self._signer is None:
            return True
        return self._signer.verify(
            answer.signature, answer.approval_id, answer.tool_call_id, answer.tool_name, answer.input
        )

    def _approved_job(self, pending: PendingApproval) -> ToolJob | ToolFailed:
        tool = self._tools.get(pending.tool_name)
        if tool is None:  # the preset changed between the request and the answer
            return ToolFailed(pending.tool_call_id, f"The tool {pending.tool_name} is no longer available.")
        parsed = parse_call_input(tool, pending.input_json)
        if parsed.error_text is not None:  # never recorded like this, unless the tool's schema changed
            return ToolFailed(pending.tool_call_id, parsed.error_text)
        return ToolJob(pending.tool_call_id, tool, parsed.tool_input)
