"""Provider ``openai``: OpenAI's Responses API, used statelessly (``store: false``).

Outline (see ``providers/base.py``)::

    create → OpenAIResponsesModel.stream → to_openai_responses_params → _Translator
           → map_openai_responses_{finish_reason,usage} / openai_common.map_openai_error

Nothing is stored at OpenAI: every request carries the whole history. Reasoning survives a
tool round trip as an encrypted blob (``include: ["reasoning.encrypted_content"]``) carried in
the reasoning part's providerMetadata, as the AI SDK's ``@ai-sdk/openai`` does
(``packages/openai/src/responses/openai-responses-language-model.ts``).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Literal, cast

import openai
from openai import AsyncStream
from openai.types.responses import (
    FunctionToolParam,
    Response,
    ResponseCompletedEvent,
    ResponseErrorEvent,
    ResponseFailedEvent,
    ResponseFunctionCallArgumentsDeltaEvent,
    ResponseFunctionCallArgumentsDoneEvent,
    ResponseFunctionToolCall,
    ResponseIncompleteEvent,
    ResponseOutputItemAddedEvent,
    ResponseOutputItemDoneEvent,
    ResponseOutputMessage,
    ResponseOutputTextAnnotationAddedEvent,
    ResponseReasoningItem,
    ResponseReasoningSummaryPartAddedEvent,
    ResponseReasoningSummaryPartDoneEvent,
    ResponseReasoningSummaryTextDeltaEvent,
    ResponseReasoningTextDeltaEvent,
    ResponseRefusalDeltaEvent,
    ResponseStreamEvent,
    ResponseTextDeltaEvent,
    ResponseUsage,
)
from openai.types.responses.response_create_params import ResponseCreateParamsStreaming
from openai.types.responses.response_output_item import ResponseOutputItem
from openai.types.shared_params import Reasoning

from backend.errors import ProviderError
from backend.events import (
    Finish,
    FinishReason,
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
    Usage,
)
from backend.providers.base import ChatModel, ModelCall, ProviderConfig, read_options
from backend.providers.openai_common import (
    classify_error_code,
    create_client,
    map_openai_error,
)
from backend.providers.openai_responses_input import to_openai_responses_input
from backend.providers.openai_responses_spec import PROVIDER, OpenAIOptions
from backend.providers.shared import JSON_HEADERS, SourceList, endpoint_url, json_body, stream_timeout


def create(config: ProviderConfig) -> ChatModel:
    """Build a Responses API client for ``config`` (the spec's ``create`` is the registry's)."""
    return OpenAIResponsesModel(config)


class OpenAIResponsesModel:
    """One configured Responses API client; ``stream`` performs one model call."""

    provider = PROVIDER

    def __init__(self, config: ProviderConfig) -> None:
        self._client = create_client(config)
        self._responses_url = endpoint_url(self._client.base_url, "/responses")
        self._stream_timeout = stream_timeout(config)
        self._api_key = config.api_key

    async def aclose(self) -> None:
        await self._client.close()

    async def stream(self, call: ModelCall) -> AsyncIterator[ProviderEvent]:
        params = to_openai_responses_params(call)
        extra_body = read_options(call, PROVIDER, OpenAIOptions).extra_body
        try:
            # The SDK's raw-request call with a body encoded once by orjson (shared.json_body); its
            # own stream of typed events is kept.
            response_stream = cast(
                AsyncStream[ResponseStreamEvent],
                await self._client.post(
                    self._responses_url,
                    cast_to=Response,
                    content=await json_body(params, extra_body),
                    options={
                        "headers": JSON_HEADERS,
                        "security": {"bearer_auth": True},
                        "timeout": self._stream_timeout,
                    },
                    stream=True,
                    stream_cls=AsyncStream[ResponseStreamEvent],
                ),
            )
        except openai.OpenAIError as error:
            raise map_openai_error(error, provider=PROVIDER, api_key=self._api_key) from error
        translator = _Translator()
        try:
            async for event in response_stream:
                # Hot path: one text token; everything else goes through the translator.
                if type(event) is ResponseTextDeltaEvent and event.item_id in translator.open_text:
                    yield TextDelta(event.item_id, event.delta)
                    continue
                for translated in translator.translate(event):
                    yield translated
        except (openai.OpenAIError, json.JSONDecodeError) as error:  # the latter: a malformed data line
            raise map_openai_error(error, provider=PROVIDER, api_key=self._api_key) from error
        finally:
            # Closes the HTTP response, also when our consumer stops early (generator closed
            # or task cancelled).
            await response_stream.close()
        if not translator.finished:
            raise ProviderError(
                provider=PROVIDER,
                category="upstream",
                detail="the stream ended before the response completed",
            )


# ---------------------------------------------------------------------------------------------
# Request
# ---------------------------------------------------------------------------------------------


_SUMMARY_MODES: dict[str, Literal["auto", "concise", "detailed"]] = {
    "auto": "auto",
    "concise": "concise",
    "detailed": "detailed",
}


def to_openai_responses_params(call: ModelCall) -> ResponseCreateParamsStreaming:
    """The request body for one call. Provider options (``[openai]`` in a preset):

    * ``reasoning_summary``: ``auto`` (default), ``concise``, ``detailed`` or ``none``;
    * ``encrypted_reasoning``: ask for encrypted reasoning (default: when thinking is on).
      Non-reasoning models (gpt-4o, gpt-4.1) reject it with HTTP 400 "Encrypted content is not
      supported with this model", so it is not sent unconditionally;
    * ``extra_body``: a table merged into the request as is.
    """
    options = read_options(call, PROVIDER, OpenAIOptions)
    params: ResponseCreateParamsStreaming = {
        "model": call.model,
        "input": to_openai_responses_input(call.messages),
        "stream": True,
        "store": False,
        "max_output_tokens": call.max_tokens,
    }
    if call.system:
        params["instructions"] = call.system
    if call.temperature is not None:
        params["temperature"] = call.temperature
    if call.top_p is not None:
        params["top_p"] = call.top_p
    if call.tools:
        params["tools"] = [
            FunctionToolParam(
                type="function",
                name=tool.name,
                description=tool.description,
                parameters=dict(tool.input_schema),
                strict=False,
            )
            for tool in call.tools
        ]
    if call.thinking.enabled:
        reasoning: Reasoning = {}
        if call.thinking.effort is not None:
            reasoning["effort"] = call.thinking.effort
        summary_mode = _SUMMARY_MODES.get(options.reasoning_summary)
        if summary_mode is not None:
            reasoning["summary"] = summary_mode
        params["reasoning"] = reasoning
    encrypted = options.encrypted_reasoning
    if encrypted is True or (encrypted is None and call.thinking.enabled):
        params["include"] = ["reasoning.encrypted_content"]
    if call.stop_sequences:
        # The Responses API has no stop sequences (ResponseCreateParams); failing beats ignoring them.
        raise ProviderError.unsupported_input(
            PROVIDER, "stop sequences are not supported by the OpenAI Responses API", code="invalid_option"
        )
    if call.tools and call.tool_choice is not None:
        choice = call.tool_choice
        if choice.mode == "tool":
            params["tool_choice"] = {"type": "function", "name": choice.tool_name or ""}
        else:
            params["tool_choice"] = choice.mode
    if call.tools and call.parallel_tool_calls is not None:
        params["parallel_tool_calls"] = call.parallel_tool_calls
    return params


# ---------------------------------------------------------------------------------------------
# Stream translation
# ---------------------------------------------------------------------------------------------

_PartState = Literal["active", "can-conclude"]


class _Translator:
    """Responses stream events → provider events; one instance per model call."""

    def __init__(self) -> None:
        self.open_text: set[str] = set()
        self.finished = False
        # reasoning item id → {summary index → state}. Parts stay open until the item is done
        # so the last one can carry the final encrypted content (the AI SDK's "can-conclude").
        self._reasoning: dict[str, dict[int, _PartState]] = {}
        # function_call item id → (call_id, name); argument deltas carry only the item id.
        self._calls: dict[str, tuple[str, str]] = {}
        self._arguments: dict[str, list[str]] = {}
        self._called: set[str] = set()
        self._sources = SourceList()

    def translate(self, event: ResponseStreamEvent) -> list[ProviderEvent]:
        match event:
            case ResponseOutputItemAddedEvent():
                return self._item_added(event.item)
            case ResponseOutputItemDoneEvent():
                return self._item_done(event.item)
            case ResponseTextDeltaEvent() | ResponseRefusalDeltaEvent():
                return [*self._ensure_text(event.item_id), TextDelta(event.item_id, event.delta)]
            case ResponseReasoningSummaryPartAddedEvent():
                return self._summary_part_added(event.item_id, event.summary_index)
            case ResponseReasoningSummaryPartDoneEvent():
                parts = self._reasoning.get(event.item_id, {})
                if event.summary_index in parts:
                    parts[event.summary_index] = "can-conclude"
                return []
            case ResponseReasoningSummaryTextDeltaEvent():
                return self._reasoning_delta(event.item_id, event.summary_index, event.delta)
            case ResponseReasoningTextDeltaEvent():
                # Raw reasoning text (e.g. gpt-oss behind a Responses server) joins part 0.
                return self._reasoning_delta(event.item_id, 0, event.delta)
            case ResponseFunctionCallArgumentsDeltaEvent():
                return self._arguments_delta(event.item_id, event.delta)
            case ResponseFunctionCallArgumentsDoneEvent():
                return self._tool_call(event.item_id, event.arguments)
            case ResponseOutputTextAnnotationAddedEvent():
                return self._annotation(event.annotation)
            case ResponseCompletedEvent() | ResponseIncompleteEvent():
                return self._finish(event.response)
            case ResponseFailedEvent():
                error = event.response.error
                raise classify_error_code(
                    provider=PROVIDER,
                    code=error.code if error else None,
                    error_type=None,
                    message=error.message if error else "the response failed",
                )
            case ResponseErrorEvent():
                # The documented mid-stream error: the SDK yields it instead of raising.
                raise classify_error_code(provider=PROVIDER, code=event.code, error_type=None, message=event.message)
            case _:
                return []

    def _item_added(self, item: ResponseOutputItem) -> list[ProviderEvent]:
        match item:
            case ResponseOutputMessage():
                return self._ensure_text(item.id)
            case ResponseReasoningItem():
                # Part 0 opens even if the item never gets a summary: that (empty) part is what
                # carries the encrypted content back. The copy on `.added` may be incomplete
                # (ResponseReasoningItem docstring), so only `.done`'s copy is used.
                self._reasoning[item.id] = {0: "active"}
                return [ReasoningStart(f"{item.id}:0", _reasoning_metadata(item.id, None))]
            case ResponseFunctionToolCall():
                item_id = item.id or item.call_id
                self._calls[item_id] = (item.call_id, item.name)
                self._arguments[item_id] = []
                events: list[ProviderEvent] = [ToolInputStart(item.call_id, item.name, _item_metadata(item_id))]
                if item.arguments:
                    events.extend(self._arguments_delta(item_id, item.arguments))
                return events
            case _:
                return []

    def _item_done(self, item: ResponseOutputItem) -> list[ProviderEvent]:
        match item:
            case ResponseOutputMessage():
                if item.id not in self.open_text:
                    return []
                self.open_text.discard(item.id)
                return [TextEnd(item.id, _item_metadata(item.id))]
            case ResponseReasoningItem():
                return self._end_reasoning(item.id, item.encrypted_content)
            case ResponseFunctionToolCall():
                return self._tool_call(item.id or item.call_id, item.arguments)
            case _:
                return []

    def _ensure_text(self, item_id: str) -> list[ProviderEvent]:
        if item_id in self.open_text:
            return []
        self.open_text.add(item_id)
        return [TextStart(item_id, _item_metadata(item_id))]

    def _summary_part_added(self, item_id: str, summary_index: int) -> list[ProviderEvent]:
        parts = self._reasoning.setdefault(item_id, {})
        if summary_index in parts:
            return []  # part 0 opened with the item
        events: list[ProviderEvent] = []
        for index, state in list(parts.items()):
            if state == "can-conclude":
                # A later part follows: only the item's last part carries the encrypted content.
                events.append(ReasoningEnd(f"{item_id}:{index}", _item_metadata(item_id)))
                del parts[index]
        parts[summary_index] = "active"
        events.append(ReasoningStart(f"{item_id}:{summary_index}", _reasoning_metadata(item_id, None)))
        return events

    def _reasoning_delta(self, item_id: str, summary_index: int, delta: str) -> list[ProviderEvent]:
        if summary_index in self._reasoning.get(item_id, ()):
            return [ReasoningDelta(f"{item_id}:{summary_index}", delta)]
        # A delta for a part that is not open (out-of-order server): open it first.
        return [*self._summary_part_added(item_id, summary_index), ReasoningDelta(f"{item_id}:{summary_index}", delta)]

    def _end_reasoning(self, item_id: str, encrypted_content: str | None) -> list[ProviderEvent]:
        metadata = _reasoning_metadata(item_id, encrypted_content)
        return [ReasoningEnd(f"{item_id}:{index}", metadata) for index in self._reasoning.pop(item_id, {})]

    def _arguments_delta(self, item_id: str, delta: str) -> list[ProviderEvent]:
        call = self._calls.get(item_id)
        if call is None or item_id in self._called:
            return []
        self._arguments[item_id].append(delta)
        return [ToolInputDelta(call[0], delta)]

    def _tool_call(self, item_id: str, arguments: str | None) -> list[ProviderEvent]:
        """Emitted once: at ``function_call_arguments.done`` or ``output_item.done``."""
        call = self._calls.get(item_id)
        if call is None or item_id in self._called:
            return []
        self._called.add(item_id)
        input_json = arguments or "".join(self._arguments.pop(item_id, ()))
        return [ToolCall(call[0], call[1], input_json or "{}", _item_metadata(item_id))]

    def _annotation(self, annotation: object) -> list[ProviderEvent]:
        # URL citations (built-in web search); an annotation type the SDK does not know is a dict.
        def field(name: str) -> object:
            return annotation.get(name) if isinstance(annotation, dict) else getattr(annotation, name, None)

        source = self._sources.add(field("url"), field("title"))
        return [source] if source is not None else []

    def _finish(self, response: Response) -> list[ProviderEvent]:
        # Whatever an incomplete response left open is ended before Finish.
        events: list[ProviderEvent] = [TextEnd(item_id) for item_id in sorted(self.open_text)]
        self.open_text.clear()
        for item_id in list(self._reasoning):
            events.extend(self._end_reasoning(item_id, None))
        for item_id in list(self._calls):
            events.extend(self._tool_call(item_id, None))
        incomplete_reason = response.incomplete_details.reason if response.incomplete_details else None
        self.finished = True
        events.append(
            Finish(
                reason=map_openai_responses_finish_reason(incomplete_reason, bool(self._calls)),
                raw_reason=incomplete_reason or response.status,
                usage=map_openai_responses_usage(response.usage),
                provider_metadata={PROVIDER: {"responseId": response.id}},
            )
        )
        return events


def _item_metadata(item_id: str) -> ProviderMetadata:
    return {PROVIDER: {"itemId": item_id}}


def _reasoning_metadata(item_id: str, encrypted_content: str | None) -> ProviderMetadata:
    return {PROVIDER: {"itemId": item_id, "reasoningEncryptedContent": encrypted_content}}


def map_openai_responses_finish_reason(incomplete_reason: str | None, made_function_call: bool) -> FinishReason:
    """As the AI SDK's ``map-openai-responses-finish-reason.ts`` (aisdk-protocol.md §2.8)."""
    if incomplete_reason == "max_output_tokens":
        return "length"
    if incomplete_reason == "content_filter":
        return "content-filter"
    if made_function_call:
        return "tool-calls"
    return "stop" if incomplete_reason is None else "other"


def map_openai_responses_usage(usage: ResponseUsage | None) -> Usage:
    """``input_tokens`` already includes cached tokens. ``cache_write_tokens`` is declared in
    SDK 3.54 but missing from older servers and recordings, so ``None`` counts as 0."""
    if usage is None:
        return Usage()
    input_details = usage.input_tokens_details
    output_details = usage.output_tokens_details
    return Usage(
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cache_read_tokens=(input_details.cached_tokens or 0) if input_details else 0,
        cache_write_tokens=(input_details.cache_write_tokens or 0) if input_details else 0,
        reasoning_tokens=(output_details.reasoning_tokens or 0) if output_details else 0,
    )
