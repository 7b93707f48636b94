"""Chat events → ``chat.completion.chunk`` objects, or one ``chat.completion``.

Streaming follows OpenAI's order: a first chunk with ``role``, content / ``reasoning_content`` /
``tool_calls`` deltas (each call keeps an ``index``; its first delta carries ``id``, ``type`` and
``name``), a last chunk with ``finish_reason``, and with ``stream_options.include_usage`` a usage
chunk with empty ``choices``. Reasoning streams as ``reasoning_content`` (the convention of
DeepSeek, vLLM and OpenRouter). Chunks are plain dicts, built once (the hot path validates
nothing; tests parse them with the official SDK).
"""

from __future__ import annotations

from typing import Any, assert_never

from backend.events import (
    AnswerModelChanged,
    ChatError,
    ChatEvent,
    ChatFinish,
    DocumentSource,
    Finish,
    FinishReason,
    GeneratedFile,
    ReasoningDelta,
    ReasoningEnd,
    ReasoningStart,
    Source,
    StepEnd,
    StepReset,
    StepStart,
    TextDelta,
    TextEnd,
    TextStart,
    ToolApprovalRequested,
    ToolCall,
    ToolDenied,
    ToolFailed,
    ToolInputDelta,
    ToolInputInvalid,
    ToolInputStart,
    ToolOutput,
    ToolResult,
    Usage,
)

FINISH_REASONS: dict[FinishReason, str] = {
    "stop": "stop",
    "length": "length",
    "content-filter": "content_filter",
    "tool-calls": "tool_calls",
    "error": "stop",
    "interrupted": "stop",
    "other": "stop",
}


def openai_usage(usage: Usage) -> dict[str, Any]:
    prompt, completion = usage.input_tokens or 0, usage.output_tokens or 0
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": usage.cache_read_tokens or 0},
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens or 0},
    }


class _Call:
    __slots__ = ("arguments", "id", "index", "name", "streamed")

    def __init__(self, index: int, tool_call_id: str, name: str) -> None:
        self.index, self.id, self.name = index, tool_call_id, name
        self.arguments: list[str] = []
        self.streamed = False


class ChatCompletionEncoder:
    """One answer's chunks (``encode``) and, folded, its ``chat.completion`` (``completion``)."""

    def __init__(self, completion_id: str, model: str, created: int, *, include_usage: bool = False) -> None:
        self._base = {"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": model}
        self._include_usage = include_usage
        self._text: list[str] = []
        self._reasoning: list[str] = []
        self._calls: dict[str, _Call] = {}
        self.finish_reason = "stop"
        self.usage = Usage()
        self.error: ChatError | None = None

    def _chunk(self, delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        return {**self._base, "choices": [choice]}

    def start(self) -> dict[str, Any]:
        return self._chunk({"role": "assistant", "content": ""})

    def encode(self, event: ChatEvent) -> list[dict[str, Any]]:
        match event:
            case TextDelta(delta=delta):
                self._text.append(delta)
                return [self._chunk({"content": delta})] if delta else []
            case ReasoningDelta(delta=delta):
                self._reasoning.append(delta)
                return [self._chunk({"reasoning_content": delta})] if delta else []
            case ToolInputStart(provider_executed=False):
                return [self._open_call(event.tool_call_id, event.tool_name)]
            case ToolInputDelta():
                call = self._calls.get(event.tool_call_id)
                if call is None or not event.delta:
                    return []
                call.arguments.append(event.delta)
                call.streamed = True
                return [self._arguments_chunk(call, event.delta)]
            case ToolCall(provider_executed=False):
                return self._complete_call(event)
            case ChatFinish(reason=reason, usage=usage):
                self.finish_reason, self.usage = FINISH_REASONS[reason], usage
                chunks = [self._chunk({}, self.finish_reason)]
                if self._include_usage:
                    chunks.append({**self._base, "choices": [], "usage": openai_usage(usage)})
                return chunks
            case ChatError():
                self.error = event
                return []
            case (
                TextStart()
                | TextEnd()
                | ReasoningStart()
                | ReasoningEnd()
                | ToolInputStart()
                | ToolCall()
                | ToolOutput()
                | Source()
                | DocumentSource()
                | GeneratedFile()
                | Finish()
                | StepStart()
                | StepEnd()
                | ToolResult()
                | ToolFailed()
                | ToolInputInvalid()
                | ToolApprovalRequested()
                | ToolDenied()
                | AnswerModelChanged()
                | StepReset()
            ):
                # StepReset never comes: gateway turns are not resettable (``TurnRequest.resettable``).
                # Provider-run tools, sources and step framing have no place in this wire.
                return []
            case _:
                assert_never(event)

    def _open_call(self, tool_call_id: str, name: str) -> dict[str, Any]:
        call = _Call(len(self._calls), tool_call_id, name)
        self._calls[tool_call_id] = call
        function = {"name": name, "arguments": ""}
        return self._chunk(
            {"tool_calls": [{"index": call.index, "id": tool_call_id, "type": "function", "function": function}]}
        )

    def _arguments_chunk(self, call: _Call, arguments: str) -> dict[str, Any]:
        return self._chunk({"tool_calls": [{"index": call.index, "function": {"arguments": arguments}}]})

    def _complete_call(self, event: ToolCall) -> list[dict[str, Any]]:
        """A call whose arguments did not stream (some providers send it whole) gets them now."""
        chunks: list[dict[str, Any]] = []
        call = self._calls.get(event.tool_call_id)
        if call is None:
            chunks.append(self._open_call(event.tool_call_id, event.tool_name))
            call = self._calls[event.tool_call_id]
        if not call.streamed and event.input_json:
            call.arguments = [event.input_json]
            chunks.append(self._arguments_chunk(call, event.input_json))
        elif call.streamed:
            call.arguments = [event.input_json]  # the provider's final text is the one that counts
        return chunks

    def completion(self) -> dict[str, Any]:
        """The whole answer as one ``chat.completion`` (call after the events)."""
        message: dict[str, Any] = {"role": "assistant", "content": "".join(self._text) or None, "refusal": None}
        reasoning = "".join(self._reasoning)
        if reasoning:
            message["reasoning_content"] = reasoning
        if self._calls:
            message["tool_calls"] = [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": "".join(call.arguments) or "{}"},
                }
                for call in self._calls.values()
            ]
        choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": self.finish_reason}
        return {**self._base, "object": "chat.completion", "choices": [choice], "usage": openai_usage(self.usage)}
