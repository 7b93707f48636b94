"""Anthropic Messages API provider (``anthropic`` SDK, raw ``messages.create(stream=True)``).

Outline (as every provider): ``create`` → ``AnthropicModel.stream`` → ``to_anthropic_params``
(in ``anthropic_params.py``) → ``_Translator`` → ``map_anthropic_{stop_reason,usage,error}``.

The raw event stream is used instead of the ``.stream()`` helper because the helper
re-accumulates a snapshot (and partially parses tool JSON) on every delta, which costs 1.5 to 2 times
the CPU per token (see ../shared/DESIGN.md, performance facts). Wire reference:
../shared/provider-wire/README.md §1; metadata shapes follow the AI SDK's Anthropic provider
(``packages/anthropic/src/anthropic-language-model.ts``). See docs/providers/anthropic.md.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal, cast

import anthropic
import httpx2
from anthropic import types as wire
from anthropic.types.raw_content_block_start_event import ContentBlock as StartedBlock

from backend.errors import ErrorCategory, ProviderError, redact
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
from backend.providers.anthropic_params import to_anthropic_params
from backend.providers.base import ChatModel, ModelCall, ProviderConfig
from backend.providers.shared import SourceList, connection_limits, retry_after_seconds
from backend.providers.tls import shared_tls_context

__all__ = [
    "AnthropicModel",
    "create",
    "map_anthropic_error",
    "map_anthropic_stop_reason",
    "map_anthropic_usage",
    "to_anthropic_params",
]

PROVIDER: Final = "anthropic"
_DEFAULT_BASE_URL: Final = "https://api.anthropic.com"
_NOTHING: tuple[ProviderEvent, ...] = ()

# What the SDK can raise while a call is made or read: its own errors, the HTTP library's
# errors escaping from body iteration (the SDK wraps only the request phase), and a malformed
# `data:` line (`ServerSentEvent.json()` → json.JSONDecodeError).
_SDK_FAILURES = (anthropic.AnthropicError, httpx2.HTTPError, json.JSONDecodeError)


def create(config: ProviderConfig) -> ChatModel:
    """Build an Anthropic client for ``config`` (close it with ``aclose``)."""
    return AnthropicModel(config)


async def count_tokens(config: ProviderConfig, call: ModelCall) -> int:
    """The input tokens of ``call``, counted by the API (``messages.count_tokens``)."""
    params = to_anthropic_params(call)
    # count_tokens takes the request without the answer's knobs (resources/messages/messages.py).
    counted: dict[str, Any] = {
        key: value for key, value in params.items() if key in ("system", "tools", "tool_choice", "thinking")
    }
    model = AnthropicModel(config)
    try:
        result = await model.client.messages.count_tokens(model=call.model, messages=params["messages"], **counted)
    except _SDK_FAILURES as exc:
        raise map_anthropic_error(exc, secrets=model.secrets) from exc
    finally:
        await model.aclose()
    return result.input_tokens


class AnthropicModel:
    """One configured ``AsyncAnthropic`` client; ``stream`` performs one Messages API call."""

    def __init__(self, config: ProviderConfig) -> None:
        self.provider = config.provider
        self._secrets = (config.api_key,) if config.api_key else ()
        timeout = anthropic.Timeout(config.timeout_seconds, connect=config.connect_timeout_seconds)
        self._client = anthropic.AsyncAnthropic(
            # Always explicit: with `None` the SDK would fall back to ANTHROPIC_API_KEY, profile
            # files and ANTHROPIC_BASE_URL, and only settings.py may read the environment.
            api_key=config.api_key or "",
            base_url=config.base_url or _DEFAULT_BASE_URL,
            timeout=timeout,
            max_retries=0,  # the loop owns retries (backend/providers/base.py)
            default_headers=dict(config.headers),
            # The SDK's aiohttp transport costs ~0.8 times its default one per token (DESIGN.md).
            http_client=anthropic.DefaultAioHttpClient(
                verify=shared_tls_context(), timeout=timeout, limits=connection_limits(config)
            ),
        )

    async def stream(self, call: ModelCall) -> AsyncIterator[ProviderEvent]:
        """One model call. Raises ``ProviderError`` for every failure, after the events that
        already arrived; leaving the iteration early closes the HTTP response."""
        params = to_anthropic_params(call)  # RequestError for unsupported input, before any I/O
        translator = _Translator()
        try:
            response_stream = await self._client.messages.create(**params)
            async with response_stream:  # closes the response on cancel/aclose as well
                async for event in response_stream:
                    for provider_event in translator.translate(event):
                        yield provider_event
        except _SDK_FAILURES as exc:
            raise map_anthropic_error(exc, secrets=self._secrets) from exc
        if not translator.finished:
            raise ProviderError(provider=PROVIDER, category="network", detail="the stream ended before message_stop")

    @property
    def client(self) -> anthropic.AsyncAnthropic:
        return self._client

    @property
    def secrets(self) -> tuple[str, ...]:
        return self._secrets

    async def aclose(self) -> None:
        await self._client.close()


# ---------------------------------------------------------------------------------------------
# Stream translation
# ---------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _OpenBlock:
    """A content block between its ``content_block_start`` and ``content_block_stop``."""

    kind: Literal["text", "reasoning", "tool", "other"]
    id: str
    tool_name: str = ""
    provider_executed: bool = False
    input_parts: list[str] = field(default_factory=list)
    start_input: str = ""


_RESULT_BLOCKS = (
    wire.WebSearchToolResultBlock,
    wire.WebFetchToolResultBlock,
    wire.CodeExecutionToolResultBlock,
    wire.BashCodeExecutionToolResultBlock,
    wire.TextEditorCodeExecutionToolResultBlock,
    wire.ToolSearchToolResultBlock,
)


class _Translator:
    """Raw Anthropic stream events → provider events, for one call.

    Text and reasoning part ids are the block index (as the AI SDK does); tool parts use the
    ``tool_use`` id. Tool input fragments are concatenated once, at ``content_block_stop``.
    """

    def __init__(self) -> None:
        self._blocks: dict[int, _OpenBlock] = {}
        self._sources = SourceList()
        self._documents: set[str] = set()
        self._usage = _UsageCounts()
        self._stop_reason: str | None = None
        self._stop_metadata: dict[str, JsonValue] = {}
        self.finished = False

    def translate(self, event: wire.RawMessageStreamEvent) -> Sequence[ProviderEvent]:
        if isinstance(event, wire.RawContentBlockDeltaEvent):
            return self._delta(event.index, event.delta)
        if isinstance(event, wire.RawContentBlockStartEvent):
            return self._start(event.index, event.content_block)
        if isinstance(event, wire.RawContentBlockStopEvent):
            return self._stop(event.index)
        if isinstance(event, wire.RawMessageStartEvent):
            # Source ids carry the message id, so they stay unique across the steps of an answer.
            self._sources = SourceList(f"{event.message.id}-")
            self._usage.absorb(event.message.usage)
        elif isinstance(event, wire.RawMessageDeltaEvent):
            self._message_delta(event)
        elif isinstance(event, wire.RawMessageStopEvent):
            return self._finish()
        return _NOTHING

    def _delta(self, index: int, delta: wire.RawContentBlockDelta) -> Sequence[ProviderEvent]:
        block = self._blocks.get(index)
        if block is None:
            return _NOTHING
        if isinstance(delta, wire.TextDelta):
            return (TextDelta(block.id, delta.text),) if delta.text else _NOTHING
        if isinstance(delta, wire.ThinkingDelta):
            return (ReasoningDelta(block.id, delta.thinking),) if delta.thinking else _NOTHING
        if isinstance(delta, wire.InputJSONDelta):
            if not delta.partial_json:  # the first fragment is usually "" (REC thinking_tool_use)
                return _NOTHING
            block.input_parts.append(delta.partial_json)
            return (ToolInputDelta(block.id, delta.partial_json),)
        if isinstance(delta, wire.SignatureDelta):
            # The AI SDK sends the signature as an extra empty reasoning delta (aisdk-protocol §2.9).
            return (ReasoningDelta(block.id, "", {PROVIDER: {"signature": delta.signature}}),)
        if isinstance(delta, wire.CitationsDelta):
            return self._citation_sources((delta.citation,))
        return _NOTHING

    def _start(self, index: int, block: StartedBlock) -> list[ProviderEvent]:
        part_id = str(index)
        events: list[ProviderEvent] = []
        if isinstance(block, wire.TextBlock):
            self._blocks[index] = _OpenBlock("text", part_id)
            events.append(TextStart(part_id))
            if block.text:
                events.append(TextDelta(part_id, block.text))
            events.extend(self._citation_sources(block.citations or ()))
        elif isinstance(block, wire.ThinkingBlock):
            # With `display: "omitted"` the block has no thinking text, only the signature.
            self._blocks[index] = _OpenBlock("reasoning", part_id)
            events.append(ReasoningStart(part_id))
            if block.thinking:
                events.append(ReasoningDelta(part_id, block.thinking))
            if block.signature:
                events.append(ReasoningDelta(part_id, "", {PROVIDER: {"signature": block.signature}}))
        elif isinstance(block, wire.RedactedThinkingBlock):
            self._blocks[index] = _OpenBlock("reasoning", part_id)
            events.append(ReasoningStart(part_id, {PROVIDER: {"redactedData": block.data}}))
        elif isinstance(block, (wire.ToolUseBlock, wire.ServerToolUseBlock)):
            executed = isinstance(block, wire.ServerToolUseBlock)
            start_input = json.dumps(block.input) if block.input else ""
            self._blocks[index] = _OpenBlock("tool", block.id, block.name, executed, [], start_input)
            events.append(ToolInputStart(block.id, block.name, provider_executed=executed))
        elif isinstance(block, _RESULT_BLOCKS):
            # Result blocks of server tools arrive complete. The output is kept in its wire shape
            # so anthropic_params.py can send it back unchanged (the API requires that).
            self._blocks[index] = _OpenBlock("other", part_id)
            output = cast(JsonValue, block.model_dump(mode="json", exclude_none=True)["content"])
            events.append(ToolOutput(block.tool_use_id, output))
            if isinstance(block, wire.WebSearchToolResultBlock) and isinstance(block.content, list):
                for result in block.content:
                    events.extend(self._source(result.url, result.title))
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

    def _citation_sources(self, citations: Sequence[wire.TextCitation]) -> list[ProviderEvent]:
        events: list[ProviderEvent] = []
        for citation in citations:
            if isinstance(citation, wire.CitationsWebSearchResultLocation):
                events.extend(self._source(citation.url, citation.title))
            else:
                events.extend(self._document(citation))
        return events

    def _document(self, citation: wire.TextCitation) -> Sequence[ProviderEvent]:
        """A cited document or search result of our own input: ``source-document``, once per
        document (``document_index`` / ``search_result_index``) in the step, as the AI SDK does."""
        if isinstance(citation, wire.CitationsSearchResultLocation):
            key = f"search-{citation.search_result_index}"
            title = citation.title or citation.source
            metadata: dict[str, JsonValue] = {"source": citation.source, "citedText": citation.cited_text}
            media_type = "text/plain"
        elif isinstance(citation, wire.CitationsWebSearchResultLocation):
            return _NOTHING
        else:
            key = f"document-{citation.document_index}"
            title = citation.document_title or "Untitled Document"
            metadata = {"citedText": citation.cited_text}
            media_type = "application/pdf" if isinstance(citation, wire.CitationPageLocation) else "text/plain"
            if isinstance(citation, wire.CitationPageLocation):
                metadata.update(startPageNumber=citation.start_page_number, endPageNumber=citation.end_page_number)
            elif isinstance(citation, wire.CitationCharLocation):
                metadata.update(startCharIndex=citation.start_char_index, endCharIndex=citation.end_char_index)
        if key in self._documents:
            return _NOTHING
        self._documents.add(key)
        source_id = f"{self._sources.prefix}document-{len(self._documents)}"
        return (DocumentSource(source_id, media_type, title, provider_metadata={PROVIDER: metadata}),)

    def _source(self, url: str, title: str | None) -> Sequence[ProviderEvent]:
        source = self._sources.add(url, title)
        return (source,) if source is not None else _NOTHING

    def _message_delta(self, event: wire.RawMessageDeltaEvent) -> None:
        self._usage.absorb(event.usage)
        if event.delta.stop_reason is not None:
            self._stop_reason = event.delta.stop_reason
        if event.delta.stop_sequence is not None:
            self._stop_metadata["stopSequence"] = event.delta.stop_sequence
        if event.delta.stop_details is not None:
            self._stop_metadata["stopDetails"] = cast(
                JsonValue, event.delta.stop_details.model_dump(mode="json", exclude_none=True)
            )

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
class _UsageCounts:
    """Usage as last reported. ``message_delta`` usage is cumulative and overwrites the
    ``message_start`` values; a field it leaves out keeps the earlier value (SDK
    ``lib/streaming/_messages.py`` ``accumulate_event``)."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_write_tokens: int | None = None
    cache_read_tokens: int | None = None
    thinking_tokens: int | None = None
    server_tool_use: dict[str, JsonValue] = field(default_factory=dict)

    def absorb(self, usage: wire.Usage | wire.MessageDeltaUsage) -> None:
        if usage.input_tokens is not None:
            self.input_tokens = usage.input_tokens
        if usage.output_tokens is not None:
            self.output_tokens = usage.output_tokens
        if usage.cache_creation_input_tokens is not None:
            self.cache_write_tokens = usage.cache_creation_input_tokens
        if usage.cache_read_input_tokens is not None:
            self.cache_read_tokens = usage.cache_read_input_tokens
        if usage.output_tokens_details is not None:
            self.thinking_tokens = usage.output_tokens_details.thinking_tokens
        if usage.server_tool_use is not None:
            self.server_tool_use = cast(dict[str, JsonValue], usage.server_tool_use.model_dump(mode="json"))


def map_anthropic_usage(counts: _UsageCounts) -> Usage:
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


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------

# `error.type` values (SDK types/shared/error_type.py); used for mid-stream `event: error`s,
# which the SDK raises as a plain APIStatusError with the stream's status 200.
_ERROR_TYPES: dict[str, ErrorCategory] = {
    "authentication_error": "auth",
    "permission_error": "auth",
    "rate_limit_error": "rate_limited",
    "overloaded_error": "overloaded",
    "api_error": "upstream",
    "timeout_error": "upstream",
    "request_too_large": "context_length",
    "invalid_request_error": "bad_request",
    "not_found_error": "bad_request",
    "billing_error": "bad_request",
}
# The API reports an oversized prompt as a 400 invalid_request_error, e.g. "prompt is too
# long: 208310 tokens > 200000 maximum" or "input length and `max_tokens` exceed context limit".
_CONTEXT_PHRASES = ("prompt is too long", "context window", "context limit", "context length")


def map_anthropic_error(exc: BaseException, *, secrets: tuple[str, ...] = ()) -> ProviderError:
    """Classify anything the SDK raised. The only place that looks at SDK exception classes."""
    if isinstance(exc, anthropic.APIStatusError):
        return _map_status_error(exc, secrets)
    if isinstance(exc, (anthropic.APITimeoutError, httpx2.TimeoutException)):
        return ProviderError(provider=PROVIDER, category="network", detail="the request timed out")
    if isinstance(exc, (anthropic.APIConnectionError, httpx2.TransportError)):
        return ProviderError(provider=PROVIDER, category="network", detail="the connection failed")
    detail = redact(str(exc), secrets) or type(exc).__name__
    return ProviderError(provider=PROVIDER, category="upstream", detail=detail)


def _map_status_error(exc: anthropic.APIStatusError, secrets: tuple[str, ...]) -> ProviderError:
    status = exc.status_code
    message = exc.api_message or exc.message
    category: ErrorCategory
    if isinstance(exc, (anthropic.AuthenticationError, anthropic.PermissionDeniedError)):
        category = "auth"
    elif isinstance(exc, anthropic.RateLimitError):
        category = "rate_limited"
    elif isinstance(exc, anthropic.OverloadedError) or status in (503, 529):
        category = "overloaded"
    elif status == 413:
        category = "context_length"
    elif status >= 500:
        category = "upstream"
    else:
        fallback: ErrorCategory = "upstream" if status < 400 or status in (408, 409) else "bad_request"
        category = _ERROR_TYPES.get(exc.type or "", fallback)
    if category == "bad_request" and any(phrase in message.lower() for phrase in _CONTEXT_PHRASES):
        category = "context_length"
    return ProviderError(
        provider=PROVIDER,
        category=category,
        detail=redact(message, secrets),
        # A mid-stream error arrives after the 200 headers: there is no error status to report.
        status=status if status >= 400 else None,
        retry_after_seconds=retry_after_seconds(exc.response.headers),
    )
