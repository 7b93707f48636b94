"""Chat events → AI SDK v7 UI message stream chunks (plain dicts; see ../shared/aisdk-protocol.md §2).

This is the hot path: chunks are built as dicts and serialised with orjson, never validated
here (``aisdk/chunks.py`` validates them in tests). Rules kept here:

* optional keys are omitted, never ``null`` (a ``null`` optional is fatal for the client);
  ``input`` / ``output`` are always present (``null`` when there is nothing);
* text/reasoning ids are made unique across the whole response by prefixing the step number,
  because providers restart their block index on every model call (the SDK does the same);
* an error closes the open text/reasoning parts, then sends ``error``, ``finish-step`` and a
  ``finish`` with ``finishReason: "error"``.
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
    GeneratedFile,
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

Chunk = dict[str, Any]

DONE_LINE = b"data: [DONE]\n\n"


def sse_line(chunk: Chunk) -> bytes:
    """One SSE event: ``data: <json>\\n\\n``."""
    return b"data: " + orjson.dumps(chunk) + b"\n\n"


def usage_to_aisdk(usage: Usage) -> dict[str, Any]:
    """Our ``Usage`` in the AI SDK ``LanguageModelUsage`` shape (unknown counts omitted)."""
    input_details: dict[str, int] = {}
    if usage.input_tokens is not None:
        cached = (usage.cache_read_tokens or 0) + (usage.cache_write_tokens or 0)
        input_details["noCacheTokens"] = max(usage.input_tokens - cached, 0)
    if usage.cache_read_tokens is not None:
        input_details["cacheReadTokens"] = usage.cache_read_tokens
    if usage.cache_write_tokens is not None:
        input_details["cacheWriteTokens"] = usage.cache_write_tokens
    output_details: dict[str, int] = {}
    if usage.output_tokens is not None:
        output_details["textTokens"] = max(usage.output_tokens - (usage.reasoning_tokens or 0), 0)
    if usage.reasoning_tokens is not None:
        output_details["reasoningTokens"] = usage.reasoning_tokens
    shape: dict[str, Any] = {"inputTokenDetails": input_details, "outputTokenDetails": output_details}
    if usage.input_tokens is not None:
        shape["inputTokens"] = usage.input_tokens
    if usage.output_tokens is not None:
        shape["outputTokens"] = usage.output_tokens
    if usage.input_tokens is not None or usage.output_tokens is not None:
        shape["totalTokens"] = (usage.input_tokens or 0) + (usage.output_tokens or 0)
    return shape


def _with_metadata(chunk: Chunk, metadata: ProviderMetadata | None, key: str = "providerMetadata") -> Chunk:
    if metadata:
        chunk[key] = metadata
    return chunk


class UIMessageStreamEncoder:
    """Stateful encoder for one response. ``start()`` first, then ``encode()`` per event."""

    def __init__(self) -> None:
        self._step = 0
        self._in_step = False
        self._open_text: set[str] = set()
        self._open_reasoning: set[str] = set()
        self.finished = False

    def start(self, message_id: str | None, metadata: dict[str, Any] | None) -> Chunk:
        chunk: Chunk = {"type": "start"}
        if message_id is not None:
            chunk["messageId"] = message_id
        if metadata:
            chunk["messageMetadata"] = metadata
        return chunk

    def _part_id(self, provider_id: str) -> str:
        return f"{self._step}-{provider_id}"

    def encode(self, event: ChatEvent) -> list[Chunk]:
        chunk: Chunk
        match event:
            case StepStart():
                self._step += 1
                self._in_step = True
                return [{"type": "start-step"}]
            case StepEnd():
                self._in_step = False
                return [{"type": "finish-step"}]
            case StepReset():
                # The client drops the step's parts (keeping its step-start) and forgets the open
                # ones; the retried attempt reuses the same part ids, so we forget them too.
                self._open_text.clear()
                self._open_reasoning.clear()
                return [{"type": "reset-step"}]
            case AnswerModelChanged(answered_by=answered_by, fallback_from=fallback_from, category=category):
                metadata = {**answered_by, "fallbackFrom": {**fallback_from, "reason": category}}
                return [{"type": "message-metadata", "messageMetadata": metadata}]
            case TextStart(id=part_id, provider_metadata=metadata):
                self._open_text.add(part_id)
                return [_with_metadata({"type": "text-start", "id": self._part_id(part_id)}, metadata)]
            case TextDelta(id=part_id, delta=delta, provider_metadata=metadata):
                chunk = {"type": "text-delta", "id": self._part_id(part_id), "delta": delta}
                return [_with_metadata(chunk, metadata)]
            case TextEnd(id=part_id, provider_metadata=metadata):
                self._open_text.discard(part_id)
                return [_with_metadata({"type": "text-end", "id": self._part_id(part_id)}, metadata)]
            case ReasoningStart(id=part_id, provider_metadata=metadata):
                self._open_reasoning.add(part_id)
                return [_with_metadata({"type": "reasoning-start", "id": self._part_id(part_id)}, metadata)]
            case ReasoningDelta(id=part_id, delta=delta, provider_metadata=metadata):
                chunk = {"type": "reasoning-delta", "id": self._part_id(part_id), "delta": delta}
                return [_with_metadata(chunk, metadata)]
            case ReasoningEnd(id=part_id, provider_metadata=metadata):
                self._open_reasoning.discard(part_id)
                return [_with_metadata({"type": "reasoning-end", "id": self._part_id(part_id)}, metadata)]
            case ToolInputStart(tool_call_id=call_id, tool_name=name, provider_metadata=metadata):
                chunk = {"type": "tool-input-start", "toolCallId": call_id, "toolName": name}
                if event.provider_executed:
                    chunk["providerExecuted"] = True
                return [_with_metadata(chunk, metadata)]
            case ToolInputDelta(tool_call_id=call_id, delta=delta):
                return [{"type": "tool-input-delta", "toolCallId": call_id, "inputTextDelta": delta}]
            case ToolCall():
                return [self._tool_call(event)]
            case ToolOutput(tool_call_id=call_id, output=output, provider_metadata=metadata):
                chunk = {"type": "tool-output-available", "toolCallId": call_id, "output": output}
                chunk["providerExecuted"] = True
                return [_with_metadata(chunk, metadata)]
            case Source(source_id=source_id, url=url, title=title, provider_metadata=metadata):
                chunk = {"type": "source-url", "sourceId": source_id, "url": url}
                if title:
                    chunk["title"] = title
                return [_with_metadata(chunk, metadata)]
            case DocumentSource(source_id=source_id, media_type=media_type, title=title, provider_metadata=metadata):
                chunk = {"type": "source-document", "sourceId": source_id, "mediaType": media_type, "title": title}
                if event.filename:
                    chunk["filename"] = event.filename
                return [_with_metadata(chunk, metadata)]
            case GeneratedFile(media_type=media_type, data=data, provider_metadata=metadata):
                chunk = {"type": "file", "mediaType": media_type, "url": f"data:{media_type};base64,{data}"}
                return [_with_metadata(chunk, metadata)]
            case Finish():
                return []  # the loop turns step finishes into StepEnd / ChatFinish
            case ToolResult(tool_call_id=call_id, output=output):
                return [{"type": "tool-output-available", "toolCallId": call_id, "output": output}]
            case ToolFailed(tool_call_id=call_id, error_text=text):
                return [{"type": "tool-output-error", "toolCallId": call_id, "errorText": text}]
            case ToolInputInvalid(tool_call_id=call_id, tool_name=name, input=value, error_text=text):
                return [
                    {
                        "type": "tool-input-error",
                        "toolCallId": call_id,
                        "toolName": name,
                        "input": value,
                        "errorText": text,
                    }
                ]
            case ToolApprovalRequested(approval_id=approval_id, tool_call_id=call_id, signature=signature):
                chunk = {"type": "tool-approval-request", "approvalId": approval_id, "toolCallId": call_id}
                if signature is not None:
                    chunk["signature"] = signature
                return [chunk]
            case ToolDenied(tool_call_id=call_id):
                return [{"type": "tool-output-denied", "toolCallId": call_id}]
            case ChatError():
                return self._error(event)
            case ChatFinish(reason=reason, usage=usage):
                self.finished = True
                return [
                    {"type": "message-metadata", "messageMetadata": {"usage": usage_to_aisdk(usage)}},
                    {"type": "finish", "finishReason": reason},
                ]
            case _:
                assert_never(event)

    def _tool_call(self, event: ToolCall) -> Chunk:
        value, error_text = parse_tool_input(event.input_json)
        if error_text is not None:
            chunk: Chunk = {
                "type": "tool-input-error",
                "toolCallId": event.tool_call_id,
                "toolName": event.tool_name,
                "input": value,
                "errorText": error_text,
            }
        else:
            chunk = {
                "type": "tool-input-available",
                "toolCallId": event.tool_call_id,
                "toolName": event.tool_name,
                "input": value,
            }
        if event.provider_executed:
            chunk["providerExecuted"] = True
        return _with_metadata(chunk, event.provider_metadata)

    def close_open_parts(self) -> list[Chunk]:
        chunks: list[Chunk] = [{"type": "text-end", "id": self._part_id(i)} for i in sorted(self._open_text)]
        chunks += [{"type": "reasoning-end", "id": self._part_id(i)} for i in sorted(self._open_reasoning)]
        self._open_text.clear()
        self._open_reasoning.clear()
        return chunks

    def _error(self, event: ChatError) -> list[Chunk]:
        chunks = self.close_open_parts()
        if event.category:
            # A transient data part lets a UI show the category / retry hint; it is not stored.
            data: dict[str, Any] = {"category": event.category, "message": event.error_text}
            if event.provider:
                data["provider"] = event.provider
            if event.retry_after_seconds is not None:
                data["retryAfterSeconds"] = event.retry_after_seconds
            chunks.append({"type": "data-error", "data": data, "transient": True})
        chunks.append({"type": "error", "errorText": event.error_text})
        if self._in_step:
            self._in_step = False
            chunks.append({"type": "finish-step"})
        chunks.append({"type": "finish", "finishReason": "error"})
        self.finished = True
        return chunks

    def encode_internal_error(self) -> list[Chunk]:
        """A bug on our side: a generic message (details are in the server log)."""
        return self._error(ChatError("An internal error occurred in Chatwire.", "internal"))

    def interrupted(self) -> list[Chunk]:
        """Chunks that end a stopped response cleanly (finish reason ``interrupted``)."""
        chunks = self.close_open_parts()
        if self._in_step:
            self._in_step = False
            chunks.append({"type": "finish-step"})
        chunks.append({"type": "finish", "finishReason": "interrupted"})
        self.finished = True
        return chunks
