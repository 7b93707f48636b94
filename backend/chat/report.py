"""What an answer did, recorded once at its end for metrics and the answer log.

``AnswerRecorder`` watches the chat events as they pass (one dictionary lookup per event; the
first output event sets the time to first token) and builds an ``AnswerReport`` when the answer
ends. ``Observer`` is what the process plugs in (Prometheus metrics, the answer log line): it is
called at answer boundaries, never per token.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from backend.errors import ProviderError
from backend.events import (
    ChatError,
    ChatEvent,
    ChatFinish,
    ReasoningDelta,
    TextDelta,
    ToolApprovalRequested,
    ToolCall,
    ToolDenied,
    ToolFailed,
    ToolInputStart,
    ToolResult,
    Usage,
)


@dataclass(frozen=True, slots=True)
class AnswerReport:
    front_door: str
    block_id: str
    preset: str
    provider: str
    model: str
    duration_seconds: float
    time_to_first_token_seconds: float | None
    finish_reason: str
    usage: Usage
    error_category: str | None = None
    retried: tuple[str, ...] = ()  # the error category of each retried attempt
    tool_outcomes: Mapping[tuple[str, str], int] = field(default_factory=dict)  # (tool, outcome) → count
    fallback_from: str | None = None
    user: str = ""  # who asked (the users file's name; per-user metrics only with --metrics-per-user)


class Observer(Protocol):
    def answer_finished(self, report: AnswerReport) -> None: ...

    def pending_approvals(self, count: int) -> None: ...


class AnswerRecorder:
    """Follows one answer's events. ``retried`` is the loop's retry hook."""

    def __init__(self, front_door: str, block_id: str, metadata: Mapping[str, object], user: str = "") -> None:
        self._user = user
        self._front_door = front_door
        self._block_id = block_id
        self._metadata = metadata
        self._started = time.monotonic()
        self._first_output: float | None = None
        self._finish: ChatFinish | None = None
        self._error: str | None = None
        self._retried: list[str] = []
        self._tool_names: dict[str, str] = {}
        self._tool_outcomes: Counter[tuple[str, str]] = Counter()
        self._handlers: dict[type, Callable[[ChatEvent], None]] = {
            TextDelta: self._output,
            ReasoningDelta: self._output,
            ToolInputStart: self._tool_started,
            ToolCall: self._tool_called,
            ToolResult: lambda event: self._tool_outcome(event, "ok"),
            ToolFailed: lambda event: self._tool_outcome(event, "error"),
            ToolDenied: lambda event: self._tool_outcome(event, "denied"),
            ToolApprovalRequested: lambda event: self._tool_outcome(event, "approval_requested"),
            ChatError: self._chat_error,
            ChatFinish: self._chat_finish,
        }

    def observe(self, event: ChatEvent) -> None:
        handler = self._handlers.get(type(event))
        if handler is not None:
            handler(event)

    def retried(self, error: ProviderError) -> None:
        self._retried.append(error.category)

    def _output(self, event: ChatEvent) -> None:
        if self._first_output is None:
            self._first_output = time.monotonic()
        # Later deltas need no bookkeeping: stop looking at them.
        self._handlers.pop(TextDelta, None)
        self._handlers.pop(ReasoningDelta, None)

    def _tool_started(self, event: ChatEvent) -> None:
        assert isinstance(event, ToolInputStart)
        self._output(event)
        self._tool_names[event.tool_call_id] = event.tool_name

    def _tool_called(self, event: ChatEvent) -> None:
        assert isinstance(event, ToolCall)
        self._tool_names[event.tool_call_id] = event.tool_name

    def _tool_outcome(self, event: ChatEvent, outcome: str) -> None:
        call_id = getattr(event, "tool_call_id", "")
        self._tool_outcomes[(self._tool_names.get(call_id, "unknown"), outcome)] += 1

    def _chat_error(self, event: ChatEvent) -> None:
        assert isinstance(event, ChatError)
        self._error = event.category or "internal"

    def _chat_finish(self, event: ChatEvent) -> None:
        assert isinstance(event, ChatFinish)
        self._finish = event

    def report(self, interrupted: bool = False) -> AnswerReport:
        now = time.monotonic()
        if self._finish is not None:
            reason, usage = self._finish.reason, self._finish.usage
        else:
            reason, usage = ("interrupted" if interrupted else "error"), Usage()
        if self._error is not None:
            reason = "error"
        first = None if self._first_output is None else self._first_output - self._started
        metadata = self._metadata
        return AnswerReport(
            front_door=self._front_door,
            block_id=self._block_id,
            preset=str(metadata.get("preset", "")),
            provider=str(metadata.get("provider", "")),
            model=str(metadata.get("model", "")),
            duration_seconds=now - self._started,
            time_to_first_token_seconds=first,
            finish_reason=reason,
            usage=usage,
            error_category=self._error,
            retried=tuple(self._retried),
            tool_outcomes=dict(self._tool_outcomes),
            user=self._user,
        )
