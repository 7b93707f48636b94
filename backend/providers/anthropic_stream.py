"""Anthropic stream events, as parsed JSON, → provider events; stop reasons and usage.

The events arrive as plain dicts (``orjson.loads`` of each SSE ``data``), not as the SDK's pydantic
models: building a model per event was the largest per-token cost (docs/benchmarks.md). The
``TypedDict``s below name the wire fields we read (SDK ``types/raw_*.py``, ../shared/provider-wire
§1); they are a reading aid for the type checker, not a validation. A required field that is
missing raises ``KeyError``/``TypeError``, which ``anthropic.py`` turns into a ``ProviderError``.
Types this code does not know (events, blocks, deltas, citations) are ignored.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal, NotRequired, TypeAlias, TypedDict, cast

from backend.events import (
    DocumentSource,
    Finish,
    FinishReason,
    JsonValue,
    ProviderEvent,
    ProviderMetadata,
    ReasoningDelta,
    ReasoningEnd,
    ReasoningStart,
    TextDelta,
    TextEnd,
    TextStart,
    ToolCall,
    ToolInputDelta,
    ToolInputStart,
    ToolOutput,
    Usage,
)
from backend.providers.shared import SourceList

__all__ = ["StreamTranslator", "map_anthropic_stop_reason", "map_anthropic_usage"]

PROVIDER: Final = "anthropic"
_NOTHING: tuple[ProviderEvent, ...] = ()

JsonObject: TypeAlias = dict[str, Any]


class WireUsage(TypedDict, total=False):
    """``Usage`` (message_start) and ``MessageDeltaUsage`` (message_delta); every field optional."""

    input_tokens: int | None
    output_tokens: int | None
    cache_creation_input_tokens: int | None
    cache_read_input_tokens: int | None
    output_tokens_details: JsonObject | None
    server_tool_use: JsonObject | None


class WireMessage(TypedDict):
    id: str
    usage: WireUsage


class WireMessageDelta(TypedDict, total=False):
    stop_reason: str | None
    stop_sequence: str | None
    stop_details: JsonObject | None


class WireEvent(TypedDict):
    """Any event: ``type`` picks which of the other fields are there."""

    type: str
    index: NotRequired[int]
    delta: NotRequired[JsonObject]
    content_block: NotRequired[JsonObject]
    message: NotRequired[WireMessage]
    usage: NotRequired[WireUsage]


# Result blocks of server tools (SDK ``raw_content_block_start_event.ContentBlock``).
_RESULT_BLOCKS = frozenset(
    {
        "web_search_tool_result",
        "web_fetch_tool_result",
        "code_execution_tool_result",
        "bash_code_execution_tool_result",
        "text_editor_code_execution_tool_result",
        "tool_search_tool_result",
    }
)
_DOCUMENT_CITATIONS = frozenset({"char_location", "page_location", "content_block_location"})


@dataclass(slots=True)
class _OpenBlock:
    """A content block between its ``content_block_start`` and ``content_block_stop``."""

    kind: Literal["text", "reasoning", "tool", "other"]
    id: str
    tool_name: str = ""
    provider_executed: bool = False
    input_parts: list[str] = field(default_factory=list)
    start_input: str = ""


class StreamTranslator:
    """Raw Anthropic stream events → provider events, for one call.

    Text and reasoning part ids are the block index (as the AI SDK does); tool parts use the
    ``tool_use`` id. Tool input fragments are concatenated once, at ``content_block_stop``.
    """

    def __init__(self) -> None:
        self._blocks: dict[int, _OpenBlock] = {}
        self._sources = SourceList()
        self._documents: set[str] = set()
        self._usage = UsageCounts()
        self._stop_reason: str | None = None
        self._stop_metadata: dict[str, JsonValue] = {}
        self.finished = False

    def translate(self, event: WireEvent) -> Sequence[ProviderEvent]:
        kind = event["type"]
        if kind == "content_block_delta":
            return self._delta(event["index"], event["delta"])
        if kind == "content_block_start":
            return self._start(event["index"], event["content_block"])
        if kind == "content_block_stop":
            return self._stop(event["index"])
        if kind == "message_start":
            message = event["message"]
            # Source ids carry the message id, so they stay unique across the steps of an answer.
            self._sources = SourceList(f"{message['id']}-")
            self._usage.absorb(message["usage"])
        elif kind == "message_delta":
            self._message_delta(cast(WireMessageDelta, event["delta"]), event["usage"])
        elif kind == "message_stop":
            return self._finish()
        return _NOTHING

    def _delta(self, index: int, delta: JsonObject) -> Sequence[ProviderEvent]:
        block = self._blocks.get(index)
        if block is None:
            return _NOTHING
        kind = delta["type"]
        if kind == "text_delta":
            text: str | None = delta.get("text")
            return (TextDelta(block.id, text),) if text else _NOTHING
        if kind == "thinking_delta":
            thinking: str | None = delta.get("thinking")
            return (ReasoningDelta(block.id, thinking),) if thinking else _NOTHING
        if kind == "input_json_delta":
            partial: str | None = delta.get("partial_json")
            if not partial:  # the first fragment is usually "" (REC thinking_tool_use)
                return _NOTHING
            block.input_parts.append(partial)
            return (ToolInputDelta(block.id, partial),)
        if kind == "signature_delta":
            # The AI SDK sends the signature as an extra empty reasoning delta (aisdk-protocol §2.9).
            return (ReasoningDelta(block.id, "", {PROVIDER: {"signature": delta["signature"]}}),)
        if kind == "citations_delta":
            return self._citation_sources((delta["citation"],))
        return _NOTHING

    def _start(self, index: int, block: JsonObject) -> list[ProviderEvent]:
        part_id = str(index)
        kind = block["type"]
        events: list[ProviderEvent] = []
        if kind == "text":
            self._blocks[index] = _OpenBlock("text", part_id)
            events.append(TextStart(part_id))
            if block.get("text"):
                events.append(TextDelta(part_id, block["text"]))
            events.extend(self._citation_sources(block.get("citations") or ()))
        elif kind == "thinking":
            # With `display: "omitted"` the block has no thinking text, only the signature.
            self._blocks[index] = _OpenBlock("reasoning", part_id)
            events.append(ReasoningStart(part_id))
            if block.get("thinking"):
                events.append(ReasoningDelta(part_id, block["thinking"]))
            if block.get("signature"):
                events.append(ReasoningDelta(part_id, "", {PROVIDER: {"signature": block["signature"]}}))
        elif kind == "redacted_thinking":
            self._blocks[index] = _OpenBlock("reasoning", part_id)
            events.append(ReasoningStart(part_id, {PROVIDER: {"redactedData": block["data"]}}))
        elif kind in ("tool_use", "server_tool_use"):
            executed = kind == "server_tool_use"
            start_input = json.dumps(block["input"]) if block.get("input") else ""
            self._blocks[index] = _OpenBlock("tool", block["id"], block["name"], executed, [], start_input)
            events.append(ToolInputStart(block["id"], block["name"], provider_executed=executed))
        elif kind in _RESULT_BLOCKS:
            # Result blocks of server tools arrive complete. The output is kept in its wire shape
            # (without nulls, as the SDK's `model_dump(exclude_none=True)` gave it) so
            # anthropic_params.py can send it back unchanged (the API requires that).
            self._blocks[index] = _OpenBlock("other", part_id)
            content = block["content"]
            events.append(ToolOutput(block["tool_use_id"], _without_nulls(content)))
            if kind == "web_search_tool_result" and isinstance(content, list):
                for result in content:
                    events.extend(self._source(result.get("url"), result.get("title")))
        else:  # container_upload and block types newer than this code: nothing to show
            self._blocks[index] = _OpenBlock("other", part_id)
        return events

    def _stop(self, index: int) -> Sequence[ProviderEvent]:
        block = self._blocks.pop(index, None)
        if block is None or block.kind == "other":
            return _NOTHING
        if block.kind == "text":
            return (TextEnd(block.id),)
        if block.kind == "reasoning":
            return (ReasoningEnd(block.id),)
        input_json = "".join(block.input_parts) or block.start_input or "{}"
        return (ToolCall(block.id, block.tool_name, input_json, provider_executed=block.provider_executed),)

    def _citation_sources(self, citations: Sequence[JsonObject]) -> list[ProviderEvent]:
        events: list[ProviderEvent] = []
        for citation in citations:
            if citation["type"] == "web_search_result_location":
                events.extend(self._source(citation.get("url"), citation.get("title")))
            else:
                events.extend(self._document(citation))
        return events

    def _document(self, citation: JsonObject) -> Sequence[ProviderEvent]:
        """A cited document or search result of our own input: ``source-document``, once per
        document (``document_index`` / ``search_result_index``) in the step, as the AI SDK does."""
        kind = citation["type"]
        if kind == "search_result_location":
            key = f"search-{citation['search_result_index']}"
            title = citation.get("title") or citation["source"]
            metadata: dict[str, JsonValue] = {"source": citation["source"], "citedText": citation["cited_text"]}
            media_type = "text/plain"
        elif kind in _DOCUMENT_CITATIONS:
            key = f"document-{citation['document_index']}"
            title = citation.get("document_title") or "Untitled Document"
            metadata = {"citedText": citation["cited_text"]}
            media_type = "application/pdf" if kind == "page_location" else "text/plain"
            if kind == "page_location":
                metadata.update(
                    startPageNumber=citation["start_page_number"], endPageNumber=citation["end_page_number"]
                )
            elif kind == "char_location":
                metadata.update(startCharIndex=citation["start_char_index"], endCharIndex=citation["end_char_index"])
        else:  # a citation type newer than this code
            return _NOTHING
        if key in self._documents:
            return _NOTHING
        self._documents.add(key)
        source_id = f"{self._sources.prefix}document-{len(self._documents)}"
        return (DocumentSource(source_id, media_type, title, provider_metadata={PROVIDER: metadata}),)

    def _source(self, url: object, title: object) -> Sequence[ProviderEvent]:
        source = self._sources.add(url, title)
        return (source,) if source is not None else _NOTHING

    def _message_delta(self, delta: WireMessageDelta, usage: WireUsage) -> None:
        self._usage.absorb(usage)
        if delta.get("stop_reason") is not None:
            self._stop_reason = delta["stop_reason"]
        if delta.get("stop_sequence") is not None:
            self._stop_metadata["stopSequence"] = delta["stop_sequence"]
        stop_details = delta.get("stop_details")
        if stop_details is not None:
            self._stop_metadata["stopDetails"] = _without_nulls(stop_details)

    def _finish(self) -> list[ProviderEvent]:
        # Close anything left open so every started part ends (events.py invariants).
        events = [event for index in list(self._blocks) for event in self._stop(index)]
        metadata: dict[str, JsonValue] = dict(self._stop_metadata)
        if self._usage.server_tool_use:
            metadata["serverToolUse"] = dict(self._usage.server_tool_use)
        provider_metadata: ProviderMetadata | None = {PROVIDER: metadata} if metadata else None
        reason = map_anthropic_stop_reason(self._stop_reason)
        events.append(Finish(reason, self._stop_reason, map_anthropic_usage(self._usage), provider_metadata))
        self.finished = True
        return events


def _without_nulls(value: Any) -> JsonValue:
    """``value`` with every ``null`` object member left out, at any depth (what the SDK's
    ``model_dump(mode="json", exclude_none=True)`` of the same block returned before)."""
    if isinstance(value, dict):
        return {key: _without_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_without_nulls(item) for item in value]
    return cast(JsonValue, value)


# ---------------------------------------------------------------------------------------------
# Stop reasons and usage
# ---------------------------------------------------------------------------------------------

# vercel/ai packages/anthropic/src/map-anthropic-stop-reason.ts (aisdk-protocol.md §2.8).
_STOP_REASONS: dict[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "tool_use": "tool-calls",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "refusal": "content-filter",
}


def map_anthropic_stop_reason(stop_reason: str | None) -> FinishReason:
    """Anthropic ``stop_reason`` → the AI SDK finish reason (unknown values → ``other``)."""
    return _STOP_REASONS.get(stop_reason or "", "other")


@dataclass(slots=True)
class UsageCounts:
    """Usage as last reported. ``message_delta`` usage is cumulative and overwrites the
    ``message_start`` values; a field it leaves out keeps the earlier value (SDK
    ``lib/streaming/_messages.py`` ``accumulate_event``)."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_write_tokens: int | None = None
    cache_read_tokens: int | None = None
    thinking_tokens: int | None = None
    server_tool_use: dict[str, JsonValue] = field(default_factory=dict)

    def absorb(self, usage: WireUsage) -> None:
        if usage.get("input_tokens") is not None:
            self.input_tokens = usage["input_tokens"]
        if usage.get("output_tokens") is not None:
            self.output_tokens = usage["output_tokens"]
        if usage.get("cache_creation_input_tokens") is not None:
            self.cache_write_tokens = usage["cache_creation_input_tokens"]
        if usage.get("cache_read_input_tokens") is not None:
            self.cache_read_tokens = usage["cache_read_input_tokens"]
        details = usage.get("output_tokens_details")
        if details is not None:
            self.thinking_tokens = details.get("thinking_tokens")
        server_tool_use = usage.get("server_tool_use")
        if server_tool_use is not None:
            self.server_tool_use = dict(server_tool_use)


def map_anthropic_usage(counts: UsageCounts) -> Usage:
    """Anthropic counts → ``Usage``. Anthropic's ``input_tokens`` excludes cached tokens: the
    prompt total is input + cache writes + cache reads (SDK ``types/usage.py``)."""
    parts = (counts.input_tokens, counts.cache_write_tokens, counts.cache_read_tokens)
    total_input = None if all(part is None for part in parts) else sum(part or 0 for part in parts)
    return Usage(
        input_tokens=total_input,
        output_tokens=counts.output_tokens,
        cache_read_tokens=counts.cache_read_tokens,
        cache_write_tokens=counts.cache_write_tokens,
        reasoning_tokens=counts.thinking_tokens,
    )
