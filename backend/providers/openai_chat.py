"""Provider ``openai-chat``: Chat Completions on OpenAI and compatible servers.

Ollama, vLLM, llama.cpp, OpenRouter, Groq, DeepSeek, xAI and Perplexity speak this API with
small differences, all handled here by reading what arrives rather than by server name:

* reasoning text arrives as ``delta.reasoning_content`` (llama.cpp, DeepSeek, xAI, older vLLM)
  or ``delta.reasoning`` (OpenRouter, Ollama, vLLM ≥ 0.11); neither is in the SDK's model, so
  they are read from ``model_extra`` (README §2.1);
* OpenRouter adds ``reasoning_details`` that must go back with the assistant message;
* tool calls are keyed by ``index``; some servers send a whole call in one delta or omit its id;
* Perplexity puts ``citations`` / ``search_results`` on the chunk itself.

Outline (see ``providers/base.py``)::

    create → OpenAIChatModel.stream → to_openai_chat_params → _Translator
           → openai_chat_output.map_openai_chat_{finish_reason,usage} / openai_common.map_openai_error
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

import openai
from openai import AsyncStream
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from openai.types.chat.chat_completion_chunk import ChoiceDelta, ChoiceDeltaToolCall
from openai.types.chat.completion_create_params import CompletionCreateParamsStreaming

from backend.errors import ProviderError
from backend.events import (
    Finish,
    JsonValue,
    ProviderEvent,
    ProviderMetadata,
    ReasoningDelta,
    TextDelta,
    ToolCall,
    ToolInputDelta,
    ToolInputStart,
    Usage,
)
from backend.providers.base import ChatModel, ModelCall, ProviderConfig, read_options
from backend.providers.openai_chat_input import METADATA_KEY, to_openai_chat_messages
from backend.providers.openai_chat_output import (
    groq_usage,
    legacy_function_call,
    map_openai_chat_finish_reason,
    map_openai_chat_usage,
    merge_reasoning_detail,
)
from backend.providers.openai_chat_spec import PROVIDER, ForcedTool, OpenAIChatOptions
from backend.providers.openai_common import create_client, map_openai_error
from backend.providers.shared import (
    JSON_HEADERS,
    OpenPart,
    SourceList,
    endpoint_url,
    json_body,
    new_tool_call_id,
    stream_timeout,
)

__all__ = [
    "METADATA_KEY",
    "PROVIDER",
    "OpenAIChatModel",
    "create",
    "to_openai_chat_params",
]


def create(config: ProviderConfig) -> ChatModel:
    """Build a Chat Completions client for ``config`` (the spec's ``create`` is the registry's)."""
    return OpenAIChatModel(config)


class OpenAIChatModel:
    """One configured Chat Completions client; ``stream`` performs one model call."""

    provider = PROVIDER

    def __init__(self, config: ProviderConfig) -> None:
        self._client = create_client(config)
        self._completions_url = endpoint_url(self._client.base_url, "/chat/completions")
        self._stream_timeout = stream_timeout(config)
        self._api_key = config.api_key

    async def aclose(self) -> None:
        await self._client.close()

    async def stream(self, call: ModelCall) -> AsyncIterator[ProviderEvent]:
        params = to_openai_chat_params(call)
        options = read_options(call, PROVIDER, OpenAIChatOptions)
        try:
            # The SDK's raw-request call with a body encoded once by orjson (shared.json_body); its
            # own stream of typed chunks is kept.
            chunk_stream = cast(
                AsyncStream[ChatCompletionChunk],
                await self._client.post(
                    self._completions_url,
                    cast_to=ChatCompletion,
                    content=await json_body(params, options.extra_body),
                    options={
                        "headers": JSON_HEADERS,
                        "security": {"bearer_auth": True},
                        "timeout": self._stream_timeout,
                    },
                    stream=True,
                    stream_cls=AsyncStream[ChatCompletionChunk],
                ),
            )
        except openai.OpenAIError as error:
            raise map_openai_error(error, provider=PROVIDER, api_key=self._api_key) from error
        translator = _Translator()
        chunks = 0
        try:
            async for chunk in chunk_stream:
                chunks += 1
                for event in translator.translate(chunk):
                    yield event
        except (openai.OpenAIError, json.JSONDecodeError) as error:  # the latter: a malformed data line
            raise map_openai_error(error, provider=PROVIDER, api_key=self._api_key) from error
        finally:
            # Closes the HTTP response, also when our consumer stops early.
            await chunk_stream.close()
        if chunks == 0 and options.explain_empty_stream:
            await self._explain_empty_stream(params, options.extra_body)
        for event in translator.finish():
            yield event

    async def _explain_empty_stream(
        self, params: CompletionCreateParamsStreaming, extra_body: dict[str, Any] | None
    ) -> None:
        """A server that fails after its 200 (llama-cpp-python renders the chat template and
        checks the context size inside the stream) sends nothing and closes. Asked the same
        without streaming, for one token, it answers with the real error: raise that, mapped
        (``context_length_exceeded`` → ``context_length``). If the question succeeds or fails
        in another way, the usual "stream ended" error follows from the translator."""
        probe: dict[str, Any] = {key: value for key, value in params.items() if key != "stream_options"}
        probe["stream"] = False
        probe["max_completion_tokens" if "max_completion_tokens" in probe else "max_tokens"] = 1
        # Two tries: the server closes the connection the failed stream used, and the pool may
        # hand that dead connection to the first try ("Server disconnected").
        for _ in range(2):
            try:
                await self._client.chat.completions.create(**probe, extra_body=extra_body)
                return
            except openai.APIStatusError as error:
                raise map_openai_error(error, provider=PROVIDER, api_key=self._api_key) from error
            except openai.APIConnectionError:
                continue
            except openai.OpenAIError:
                return


def to_openai_chat_params(call: ModelCall) -> CompletionCreateParamsStreaming:
    """The request body for one call, with the ``[openai-chat]`` preset options applied (each is
    described on ``OpenAIChatOptions`` and in docs/providers/openai.md)."""
    options = read_options(call, PROVIDER, OpenAIChatOptions)
    params: CompletionCreateParamsStreaming = {
        "model": call.model,
        "messages": to_openai_chat_messages(call.system, call.messages, options.message_rules()),
        "stream": True,
    }
    if options.include_usage:
        params["stream_options"] = {"include_usage": True}
    if options.max_tokens_field == "max_completion_tokens":
        params["max_completion_tokens"] = call.max_tokens
    else:
        params["max_tokens"] = call.max_tokens
    if call.temperature is not None:
        params["temperature"] = call.temperature
    if call.top_p is not None:
        params["top_p"] = call.top_p
    if call.tools:
        params["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": tool.name,
                    "description": tool.description,
                    "parameters": dict(tool.input_schema),
                },
            }
            for tool in call.tools
        ]
        match options.tool_choice:
            case ForcedTool(name=name):
                params["tool_choice"] = {"type": "function", "function": {"name": name}}
            case "auto" | "none" | "required" as mode:
                params["tool_choice"] = mode
            case None:
                pass
    if call.thinking.enabled and call.thinking.effort is not None:
        params["reasoning_effort"] = call.thinking.effort
    if call.stop_sequences:
        params["stop"] = list(call.stop_sequences)
    if call.tools and call.tool_choice is not None:
        choice = call.tool_choice
        if choice.mode == "tool":
            params["tool_choice"] = {"type": "function", "function": {"name": choice.tool_name or ""}}
        else:
            params["tool_choice"] = choice.mode
    if call.tools and call.parallel_tool_calls is not None:
        params["parallel_tool_calls"] = call.parallel_tool_calls
    return params


@dataclass
class _PendingCall:
    tool_call_id: str
    name: str
    arguments: list[str] = field(default_factory=list)
    started: bool = False
    extra_content: JsonValue = None


class _Translator:
    """Chat Completions chunks → provider events; one instance per model call."""

    def __init__(self) -> None:
        self._part = OpenPart()  # text or reasoning; a new kind closes the other
        self._reasoning_details: list[dict[str, JsonValue]] = []
        self._calls: dict[int, _PendingCall] = {}
        self._source_list = SourceList()
        self._finish_reason: str | None = None
        self._usage = Usage()  # unknown unless the server reports it (never zeros made up)
        self._called = False

    def translate(self, chunk: ChatCompletionChunk) -> list[ProviderEvent]:
        events: list[ProviderEvent] = []
        chunk_extra = chunk.model_extra
        if chunk_extra:
            self._sources(chunk_extra, events)
        usage = chunk.usage or groq_usage(chunk_extra)
        if usage is not None and (usage.prompt_tokens or usage.completion_tokens):
            # A usage of all zeros (sent on intermediate chunks by some servers) says nothing.
            self._usage = map_openai_chat_usage(usage)
        for choice in chunk.choices:
            if choice.index != 0:
                continue  # only one choice is requested
            if choice.delta is not None:
                self._delta(choice.delta, events)
            if choice.finish_reason is not None and self._finish_reason is None:
                # OpenRouter repeats finish_reason on the usage chunk; the first one counts.
                self._finish_reason = choice.finish_reason
                self._close_parts(events)
                self._flush_calls(events)
        return events

    def finish(self) -> list[ProviderEvent]:
        """At the end of the stream: whatever a sloppy server sent after its finish_reason is
        closed too, then ``Finish`` (it waits for the usage chunk, which follows the finish)."""
        if self._finish_reason is None:
            raise ProviderError(
                provider=PROVIDER, category="upstream", detail="the stream ended before the model finished"
            )
        events: list[ProviderEvent] = []
        self._close_parts(events)
        self._flush_calls(events)
        reason = map_openai_chat_finish_reason(self._finish_reason)
        if self._called and reason in ("stop", "other"):
            # Ollama (older) and Gemini's OpenAI endpoint say "stop" after a streamed tool call.
            reason = "tool-calls"
        events.append(Finish(reason=reason, raw_reason=self._finish_reason, usage=self._usage))
        return events

    # -- deltas --------------------------------------------------------------------------------

    def _delta(self, delta: ChoiceDelta, events: list[ProviderEvent]) -> None:
        delta_extra = delta.model_extra
        if delta_extra:
            reasoning = delta_extra.get("reasoning_content") or delta_extra.get("reasoning")
            details = delta_extra.get("reasoning_details")
            if (isinstance(reasoning, str) and reasoning) or details:
                self._reasoning(reasoning if isinstance(reasoning, str) else "", details, events)
        if delta.content:
            if self._part.kind != "text":
                self._close_parts(events)
                self._part.open("text", events)
            events.append(TextDelta(self._part.id, delta.content))
        fragments = delta.tool_calls or legacy_function_call(delta)
        if fragments:
            self._close_parts(events)
            for fragment in fragments:
                self._tool_call_fragment(fragment, events)

    def _reasoning(self, text: str, details: object, events: list[ProviderEvent]) -> None:
        if self._part.kind != "reasoning":
            self._close_parts(events)
            self._part.open("reasoning", events)
        if text:
            events.append(ReasoningDelta(self._part.id, text))
        if isinstance(details, list):
            for detail in details:
                if isinstance(detail, dict):
                    merge_reasoning_detail(self._reasoning_details, detail)

    def _close_parts(self, events: list[ProviderEvent]) -> None:
        metadata: ProviderMetadata | None = None
        if self._part.kind == "reasoning" and self._reasoning_details:
            # OpenRouter's reasoning details go back with the reasoning (signatures, encrypted data).
            metadata = {METADATA_KEY: {"reasoningDetails": list(self._reasoning_details)}}
            self._reasoning_details = []
        self._part.close(events, metadata)

    # -- tool calls ----------------------------------------------------------------------------

    def _tool_call_fragment(self, fragment: ChoiceDeltaToolCall, events: list[ProviderEvent]) -> None:
        index = self._call_index(fragment)
        function = fragment.function
        call = self._calls.get(index)
        if call is None:
            # Some servers omit the id; the loop and the UI need one, so make one up.
            call = _PendingCall(fragment.id or new_tool_call_id(), "")
            self._calls[index] = call
        elif fragment.id and not call.started:
            call.tool_call_id = fragment.id
        if function is not None and function.name and not call.name:
            call.name = function.name
        extra = fragment.model_extra.get("extra_content") if fragment.model_extra else None
        if extra is not None:
            call.extra_content = extra
        arguments = function.arguments if function is not None else None
        if arguments:
            call.arguments.append(arguments)
        if not call.started and call.name:
            call.started = True
            events.append(ToolInputStart(call.tool_call_id, call.name))
            if call.arguments:  # fragments that came before the name, or a whole call at once
                events.append(ToolInputDelta(call.tool_call_id, "".join(call.arguments)))
        elif call.started and arguments:
            events.append(ToolInputDelta(call.tool_call_id, arguments))

    def _call_index(self, fragment: ChoiceDeltaToolCall) -> int:
        # `index` is required by the spec, but a few servers leave it out.
        if fragment.index is not None:
            return fragment.index
        for index, call in self._calls.items():
            if fragment.id and call.tool_call_id == fragment.id:
                return index
        return len(self._calls) if fragment.id or not self._calls else max(self._calls)

    def _flush_calls(self, events: list[ProviderEvent]) -> None:
        self._called = self._called or bool(self._calls)
        for index in sorted(self._calls):
            call = self._calls[index]
            if not call.started:
                call.started = True
                events.append(ToolInputStart(call.tool_call_id, call.name))
            metadata: ProviderMetadata | None = None
            if call.extra_content is not None:
                metadata = {METADATA_KEY: {"extraContent": call.extra_content}}
            input_json = "".join(call.arguments) or "{}"
            events.append(ToolCall(call.tool_call_id, call.name, input_json, metadata))
        self._calls.clear()

    # -- sources -------------------------------------------------------------------------------

    def _sources(self, chunk_extra: Mapping[str, Any], events: list[ProviderEvent]) -> None:
        """Perplexity repeats ``search_results`` (with titles) and ``citations`` on chunks."""
        results = chunk_extra.get("search_results")
        if isinstance(results, list):
            for result in results:
                if isinstance(result, dict):
                    self._source(result.get("url"), result.get("title"), events)
        citations = chunk_extra.get("citations")
        if isinstance(citations, list):
            for url in citations:
                self._source(url, None, events)

    def _source(self, url: object, title: object, events: list[ProviderEvent]) -> None:
        source = self._source_list.add(url, title)
        if source is not None:
            events.append(source)
