"""Chat events → Anthropic message stream events, or one ``message`` object.

The real sequence (https://docs.anthropic.com/en/api/messages-streaming): ``message_start``,
``ping``, per content block ``content_block_start`` / ``content_block_delta`` (``text_delta``,
``thinking_delta``, ``signature_delta``, ``input_json_delta``) / ``content_block_stop``, then
``message_delta`` (``stop_reason``, usage) and ``message_stop``. Blocks never interleave in
this wire, so a part that continues after another block opened starts a new block.

A thinking block carries its signature when the provider issued one (only Anthropic's is under
the ``anthropic`` metadata key); other providers' thinking is sent without a signature.
"""

from __future__ import annotations

from typing import Any, assert_never

import orjson

from backend.events import (
    AnswerModelChanged,
    ChatError,
    ChatEvent,
    ChatFinish,
    DocumentSource,
    Finish,
    FinishReason,
    GeneratedFile,
    JsonValue,
    ProviderMetadata,
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
    parse_tool_input,
)

STOP_REASONS: dict[FinishReason, str] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "content-filter": "refusal",
    "tool-calls": "tool_use",
    "error": "end_turn",
    "interrupted": "end_turn",
    "other": "end_turn",
}
# Raw reasons that already are Anthropic's (from the Anthropic provider) pass through as they are.
ANTHROPIC_STOP_REASONS = frozenset(
    {"end_turn", "max_tokens", "stop_sequence", "tool_use", "pause_turn", "refusal", "model_context_window_exceeded"}
)

Event = tuple[str, dict[str, Any]]


def anthropic_usage(usage: Usage) -> dict[str, Any]:
    """Anthropic counts ``input_tokens`` without the cached parts (ours is the total)."""
    read, written = usage.cache_read_tokens or 0, usage.cache_write_tokens or 0
    return {
        "input_tokens": max((usage.input_tokens or 0) - read - written, 0),
        "cache_creation_input_tokens": written,
        "cache_read_input_tokens": read,
        "output_tokens": usage.output_tokens or 0,
    }


def _own(metadata: ProviderMetadata | None, key: str) -> str | None:
    value = (metadata or {}).get("anthropic", {}).get(key)
    return value if isinstance(value, str) else None


class _Block:
    __slots__ = ("content", "index", "kind", "part_id", "pieces", "signed")

    def __init__(self, index: int, kind: str, part_id: str, content: dict[str, Any]) -> None:
        self.index, self.kind, self.part_id, self.content = index, kind, part_id, content
        self.pieces: list[str] = []
        self.signed = False


class AnthropicMessageEncoder:
    """One answer's events (``encode``) and, folded, its ``message`` object (``message``)."""

    def __init__(self, message_id: str, model: str) -> None:
        self._id, self._model = message_id, model
        self._blocks: list[_Block] = []
        self._open: _Block | None = None
        self._tool_names: dict[str, str] = {}
        self._tool_blocks: dict[str, _Block] = {}
        self.stop_reason = "end_turn"
        self.raw_reason: str | None = None
        self.usage = Usage()
        self.error: ChatError | None = None

    def start(self) -> list[Event]:
        message = {**self._message_base(), "content": [], "stop_reason": None, "usage": anthropic_usage(Usage())}
        return [("message_start", {"type": "message_start", "message": message}), ("ping", {"type": "ping"})]

    def _message_base(self) -> dict[str, Any]:
        return {"id": self._id, "type": "message", "role": "assistant", "model": self._model, "stop_sequence": None}

    def encode(self, event: ChatEvent) -> list[Event]:
        match event:
            case TextStart() | ReasoningStart():
                return []  # a block opens with its first content (empty parts send nothing)
            case TextDelta(id=part_id, delta=delta):
                if not delta:
                    return []
                events, block = self._block("text", part_id, {"type": "text", "text": ""})
                block.pieces.append(delta)
                return [*events, self._delta(block, {"type": "text_delta", "text": delta})]
            case ReasoningDelta():
                return self._reasoning(event.id, event.delta, event.provider_metadata)
            case ReasoningEnd():
                return self._reasoning(event.id, "", event.provider_metadata)
            case TextEnd():
                return []
            case ToolInputStart(provider_executed=False):
                self._tool_names[event.tool_call_id] = event.tool_name
                return self._block("tool", event.tool_call_id, self._tool_use(event.tool_call_id, event.tool_name))[0]
            case ToolInputDelta(tool_call_id=call_id, delta=delta):
                if call_id not in self._tool_names or not delta:
                    return []
                events, block = self._block("tool", call_id, self._tool_use(call_id, self._tool_names[call_id]))
                block.pieces.append(delta)
                return [*events, self._delta(block, {"type": "input_json_delta", "partial_json": delta})]
            case ToolCall(provider_executed=False):
                return self._complete_call(event)
            case Finish(raw_reason=raw):
                self.raw_reason = raw
                return []
            case ChatFinish(reason=reason, usage=usage):
                raw = self.raw_reason
                self.stop_reason = raw if raw is not None and raw in ANTHROPIC_STOP_REASONS else STOP_REASONS[reason]
                self.usage = usage
                stop = {"stop_reason": self.stop_reason, "stop_sequence": None}
                return [
                    *self._close(),
                    ("message_delta", {"type": "message_delta", "delta": stop, "usage": anthropic_usage(usage)}),
                    ("message_stop", {"type": "message_stop"}),
                ]
            case ChatError():
                self.error = event
                return self._close()
            case (
                ToolInputStart()
                | ToolCall()
                | ToolOutput()
                | Source()
                | DocumentSource()
                | GeneratedFile()
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
                return []
            case _:
                assert_never(event)

    @staticmethod
    def _tool_use(tool_call_id: str, name: str) -> dict[str, Any]:
        return {"type": "tool_use", "id": tool_call_id, "name": name, "input": {}}

    def _block(self, kind: str, part_id: str, content: dict[str, Any]) -> tuple[list[Event], _Block]:
        """The open block for this part, or a new one (closing the block that was open)."""
        open_block = self._open
        if open_block is not None and open_block.kind == kind and open_block.part_id == part_id:
            return [], open_block
        events = self._close()
        block = _Block(len(self._blocks), kind, part_id, content)
        self._blocks.append(block)
        if kind == "tool":
            self._tool_blocks[part_id] = block
        self._open = block
        start = {"type": "content_block_start", "index": block.index, "content_block": content}
        return [*events, ("content_block_start", start)], block

    def _close(self) -> list[Event]:
        block, self._open = self._open, None
        if block is None:
            return []
        return [("content_block_stop", {"type": "content_block_stop", "index": block.index})]

    @staticmethod
    def _delta(block: _Block, delta: dict[str, Any]) -> Event:
        return ("content_block_delta", {"type": "content_block_delta", "index": block.index, "delta": delta})

    def _reasoning(self, part_id: str, delta: str, metadata: ProviderMetadata | None) -> list[Event]:
        redacted, signature = _own(metadata, "redactedData"), _own(metadata, "signature")
        if redacted is not None:
            events, _ = self._block("redacted", part_id, {"type": "redacted_thinking", "data": redacted})
            return [*events, *self._close()]
        if not delta and signature is None:
            return []
        events, block = self._block("thinking", part_id, {"type": "thinking", "thinking": "", "signature": ""})
        if delta:
            block.pieces.append(delta)
            events.append(self._delta(block, {"type": "thinking_delta", "thinking": delta}))
        if signature is not None and not block.signed:
            block.signed = True
            block.content = {**block.content, "signature": signature}
            events.append(self._delta(block, {"type": "signature_delta", "signature": signature}))
        return events

    def _complete_call(self, event: ToolCall) -> list[Event]:
        """The call's input, whole, if it did not stream (Gemini sends calls complete)."""
        self._tool_names[event.tool_call_id] = event.tool_name
        streamed = self._tool_blocks.get(event.tool_call_id)
        if streamed is not None and streamed.pieces:
            # Its input streamed already (perhaps before another call's block): only the final text counts.
            streamed.pieces = [event.input_json]
            return []
        events, block = self._block("tool", event.tool_call_id, self._tool_use(event.tool_call_id, event.tool_name))
        if event.input_json.strip():
            block.pieces.append(event.input_json)
            events.append(self._delta(block, {"type": "input_json_delta", "partial_json": event.input_json}))
        block.pieces = [event.input_json]
        return events

    def message(self) -> dict[str, Any]:
        """The whole answer as one ``message`` object (call after the events)."""
        content: list[dict[str, Any]] = []
        for block in self._blocks:
            text = "".join(block.pieces)
            if block.kind == "text":
                content.append({"type": "text", "text": text})
            elif block.kind == "thinking":
                content.append({"type": "thinking", "thinking": text, "signature": block.content["signature"]})
            elif block.kind == "redacted":
                content.append(block.content)
            else:
                value: JsonValue = parse_tool_input(text)[0] if text.strip() else {}
                tool_input = value if isinstance(value, dict) else {"input": value}
                content.append({**block.content, "input": tool_input})
        return {
            **self._message_base(),
            "content": content,
            "stop_reason": self.stop_reason,
            "usage": anthropic_usage(self.usage),
        }


def sse_event(name: str, data: dict[str, Any]) -> bytes:
    """One Anthropic SSE event: ``event:`` line, ``data:`` line, blank line."""
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"
