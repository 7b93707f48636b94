"""Gemini API provider (``google-genai`` SDK, async ``generate_content_stream`` over aiohttp).

Outline (as every provider): ``create`` → ``GoogleModel.stream`` → ``to_google_config`` /
``to_google_contents`` (in ``google_params.py``) → ``_Translator`` →
``map_google_{finish_reason,usage,error}``.

Each streamed chunk is a whole ``GenerateContentResponse`` carrying the *new* parts; there is no
per-part start/stop protocol, so block boundaries are inferred here: consecutive thought parts
share one reasoning block, consecutive text parts one text block. Function calls always arrive
complete. Wire reference: ../shared/provider-wire/README.md §3; metadata shapes follow the AI SDK's
``packages/google/src/google-language-model.ts``. See docs/providers/google.md.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import AsyncIterator
from contextvars import ContextVar
from typing import Any, Final, Literal

import aiohttp
import httpx2
import pydantic
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from backend.errors import ErrorCategory, ProviderError, redact
from backend.events import (
    Finish,
    FinishReason,
    GeneratedFile,
    ProviderEvent,
    ProviderMetadata,
    ReasoningDelta,
    TextDelta,
    ToolCall,
    ToolInputStart,
    Usage,
)
from backend.providers.base import ChatModel, ModelCall, ProviderConfig
from backend.providers.google_params import to_google_config, to_google_contents
from backend.providers.google_spec import DEFAULT_API_VERSION, PROVIDER
from backend.providers.shared import OpenPart, SourceList, new_tool_call_id, retry_after_seconds
from backend.providers.tls import shared_tls_context

__all__ = [
    "GoogleModel",
    "create",
    "map_google_error",
    "map_google_finish_reason",
    "map_google_usage",
    "to_google_config",
    "to_google_contents",
]

_DEFAULT_BASE_URL: Final = "https://generativelanguage.googleapis.com/"

# What can escape from the SDK while a call is made or read: API errors (HTTP status or an
# `{"error":...}` chunk mid-stream), the transports' errors (aiohttp by default; httpx2 if a
# transport is forced), timeouts, an unparsable chunk and a chunk the SDK's models reject
# (e.g. a thoughtSignature that is not base64, README §0 rule 6).
_SDK_FAILURES = (
    genai_errors.APIError,
    genai_errors.UnknownApiResponseError,
    aiohttp.ClientError,
    httpx2.TransportError,
    TimeoutError,
    pydantic.ValidationError,
)

_CONTENT_FILTER_REASONS: Final = frozenset(
    {
        "SAFETY",
        "RECITATION",
        "BLOCKLIST",
        "PROHIBITED_CONTENT",
        "SPII",
        "IMAGE_SAFETY",
        # Not in the AI SDK's table (it predates them), but the same situation for a user.
        "IMAGE_PROHIBITED_CONTENT",
        "IMAGE_RECITATION",
        "MODEL_ARMOR",
    }
)
_CONTEXT_LENGTH_MESSAGE: Final = re.compile(
    r"token count.*exceed|exceeds the maximum number of tokens|context (window|length)|too many tokens"
    r"|input is too long|prompt is too long",
    re.IGNORECASE,
)
_RETRY_DELAY: Final = re.compile(r"^\s*(\d+(?:\.\d+)?)s\s*$")


def create(config: ProviderConfig) -> ChatModel:
    """Build a Gemini client for ``config`` (close it with ``aclose``)."""
    return GoogleModel(config)


# ---------------------------------------------------------------------------------------------
# Client and connection ownership
# ---------------------------------------------------------------------------------------------

# The aiohttp responses opened while the current stream() awaits the SDK (README §3.4b: closing
# the SDK's async stream leaves its HTTP response open until garbage collection). A client
# middleware records every response here so stream() can close exactly its own connections,
# without touching the streams of other calls that share the client.
_STREAM_RESPONSES: ContextVar[list[aiohttp.ClientResponse] | None] = ContextVar(
    "chatwire_google_stream_responses", default=None
)


async def _track_response(request: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType) -> aiohttp.ClientResponse:
    response = await handler(request)
    responses = _STREAM_RESPONSES.get()
    if responses is not None:
        responses.append(response)
    return response


class GoogleModel:
    """One configured ``genai.Client``; ``stream`` performs one ``streamGenerateContent`` call."""

    def __init__(self, config: ProviderConfig) -> None:
        self.provider = config.provider
        self._secrets = (config.api_key,) if config.api_key else ()
        context = shared_tls_context()
        self._client = genai.Client(
            # Always explicit: otherwise the SDK falls back to GOOGLE_API_KEY / GEMINI_API_KEY,
            # GOOGLE_GEMINI_BASE_URL and GOOGLE_GENAI_USE_VERTEXAI, and only settings.py reads
            # the environment. An empty key makes the API answer 400 API_KEY_INVALID (auth).
            api_key=config.api_key or "missing-api-key",
            vertexai=False,
            http_options=types.HttpOptions(
                base_url=config.base_url or _DEFAULT_BASE_URL,
                api_version=DEFAULT_API_VERSION,  # per call: the [google] api_version option
                headers=dict(config.headers),
                timeout=round(config.total_timeout_seconds * 1000),  # milliseconds, for the whole request
                # No retries: the loop owns them. Without retry_options the SDK still retries
                # once, after sleeping 1-10 s, on an aiohttp connection error (_api_client.py
                # _async_request_once); one attempt via retry_options turns that off too.
                retry_options=types.HttpRetryOptions(attempts=1),
                client_args={"verify": context},
                async_client_args={"verify": context, "ssl": context, "middlewares": (_track_response,)},
            ),
        )

    async def stream(self, call: ModelCall) -> AsyncIterator[ProviderEvent]:
        """One model call. Raises ``ProviderError`` for every failure, after the events that
        already arrived; leaving the iteration early closes the HTTP response."""
        contents = to_google_contents(call.messages)  # RequestError before any I/O
        config = to_google_config(call)
        translator = _Translator()
        responses: list[aiohttp.ClientResponse] = []
        try:
            chunks = await self._client.aio.models.generate_content_stream(
                model=call.model, contents=contents, config=config
            )
            while (chunk := await _next_chunk(chunks, responses)) is not None:
                for event in translator.translate(chunk):
                    yield event
            for event in translator.finish():
                yield event
        except _SDK_FAILURES as exc:
            raise map_google_error(exc, secrets=self._secrets) from exc
        finally:
            # Normally already released to the pool; after an early exit or an error this closes
            # the connection, so the upstream stops generating (and billing) at once.
            for response in responses:
                response.close()

    async def aclose(self) -> None:
        await self._client.aio.aclose()
        self._client.close()

    async def __aenter__(self) -> GoogleModel:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


async def _next_chunk(
    chunks: AsyncIterator[types.GenerateContentResponse], responses: list[aiohttp.ClientResponse]
) -> types.GenerateContentResponse | None:
    # The SDK sends its request(s) lazily, inside __anext__ (automatic continuation may send
    # more than one), so the response list is installed around each call. It is reset before our
    # generator yields, so the consumer's context never sees it.
    token = _STREAM_RESPONSES.set(responses)
    try:
        return await anext(chunks)
    except StopAsyncIteration:
        return None
    finally:
        _STREAM_RESPONSES.reset(token)


# ---------------------------------------------------------------------------------------------
# Stream translation
# ---------------------------------------------------------------------------------------------


class _Translator:
    """Turns chunks into provider events; one instance per model call."""

    __slots__ = ("_finish", "_open_part", "_sources", "_usage", "made_calls")

    def __init__(self) -> None:
        self._open_part = OpenPart(kind_in_id=False)  # ids "0", "1", ...
        self._sources = SourceList()
        self._finish: str | None = None
        self._usage: types.GenerateContentResponseUsageMetadata | None = None
        self.made_calls = False

    def translate(self, chunk: types.GenerateContentResponse) -> list[ProviderEvent]:
        feedback = chunk.prompt_feedback
        if feedback is not None and feedback.block_reason is not None:
            # The prompt itself was refused: nothing was generated and nothing will be, so this
            # is an error the user must see, not an empty answer that "finished".
            reason = f"{feedback.block_reason.value}: {feedback.block_reason_message or ''}".rstrip(": ")
            raise ProviderError(provider=PROVIDER, category="content_filter", detail=f"prompt blocked ({reason})")
        if chunk.usage_metadata is not None:
            self._usage = chunk.usage_metadata  # cumulative: the last one counts
        if not chunk.candidates:
            return []
        candidate = chunk.candidates[0]  # one candidate is all we ask for
        events: list[ProviderEvent] = []
        if candidate.content is not None and candidate.content.parts:
            for part in candidate.content.parts:
                self._part(part, events)
        grounding = candidate.grounding_metadata
        if grounding is not None:
            # Google Search grounding: each web chunk is a cited URL (``source-url``), once per URL.
            for grounding_chunk in grounding.grounding_chunks or ():
                web = grounding_chunk.web
                if web is not None:
                    source = self._sources.add(web.uri, web.title)
                    if source is not None:
                        events.append(source)
        if candidate.finish_reason is not None:
            self._finish = candidate.finish_reason.value
        return events

    def _part(self, part: types.Part, events: list[ProviderEvent]) -> None:
        signature = part.thought_signature
        metadata: ProviderMetadata | None = (
            {PROVIDER: {"thoughtSignature": base64.b64encode(signature).decode("ascii")}} if signature else None
        )
        function_call = part.function_call
        if function_call is not None:
            self._open_part.close(events)
            self.made_calls = True
            # Gemini 3 gives ids; Gemini 2.5 does not, and ours must be unique in the history.
            tool_call_id = function_call.id or new_tool_call_id()
            name = function_call.name or ""
            arguments = json.dumps(function_call.args or {}, ensure_ascii=False)
            events.append(ToolInputStart(tool_call_id, name, provider_metadata=metadata))
            events.append(ToolCall(tool_call_id, name, arguments, provider_metadata=metadata))
            return
        inline = part.inline_data
        if inline is not None and inline.data:
            # A generated file (image output): its own part, between the text parts around it.
            self._open_part.close(events)
            data = base64.b64encode(inline.data).decode("ascii")
            events.append(GeneratedFile(inline.mime_type or "application/octet-stream", data, metadata))
            return
        text = part.text
        if not text and metadata is None:
            return  # an empty text part (ends a tool-call turn), or a part kind we do not map
        kind: Literal["text", "reasoning"] = "reasoning" if part.thought else "text"
        # A second signature in one block would overwrite the first on the stored part, so a
        # signed part that meets an already signed block starts a new one.
        if kind != self._open_part.kind or (metadata is not None and self._open_part.metadata is not None):
            self._open_part.close(events)
            self._open_part.open(kind, events)
        if metadata is not None:
            # Gemini 3 sends the signature of a text answer on a final empty part; as a delta
            # "" it still lands on the stored part (and on the End event below).
            self._open_part.metadata = metadata
        if kind == "text":
            events.append(TextDelta(self._open_part.id, text or "", metadata))
        else:
            events.append(ReasoningDelta(self._open_part.id, text or "", metadata))

    def finish(self) -> list[ProviderEvent]:
        """The closing events; raises if the stream ended without a finish reason."""
        if self._finish is None:
            raise ProviderError(
                provider=PROVIDER, category="network", detail="the stream ended without a finish reason"
            )
        events: list[ProviderEvent] = []
        self._open_part.close(events)
        reason = map_google_finish_reason(self._finish, made_function_calls=self.made_calls)
        events.append(Finish(reason=reason, raw_reason=self._finish, usage=map_google_usage(self._usage)))
        return events


def map_google_finish_reason(raw: str, *, made_function_calls: bool) -> FinishReason:
    """Gemini ``finishReason`` → AI SDK enum (``map-google-finish-reason.ts``, aisdk-protocol §2.8)."""
    if raw == "STOP":
        # Gemini ends a tool-call turn with STOP too; only the parts tell them apart.
        return "tool-calls" if made_function_calls else "stop"
    if raw == "MAX_TOKENS":
        return "length"
    if raw in _CONTENT_FILTER_REASONS:
        return "content-filter"
    if raw == "MALFORMED_FUNCTION_CALL":
        return "error"
    return "other"


def map_google_usage(metadata: types.GenerateContentResponseUsageMetadata | None) -> Usage:
    """``usageMetadata`` → ``Usage``. Thoughts are not part of ``candidatesTokenCount`` (REC:
    total = prompt + candidates + thoughts); cached tokens are part of the prompt count.

    The API speaks proto3 JSON, which omits zero counts: in a present ``usageMetadata`` a missing
    count means 0 (e.g. no ``thoughtsTokenCount`` when the model did not think), not "unknown".
    Gemini does not report cache writes, so those stay unknown.
    """
    if metadata is None:
        return Usage()
    thoughts = metadata.thoughts_token_count or 0
    return Usage(
        input_tokens=metadata.prompt_token_count or 0,
        output_tokens=(metadata.candidates_token_count or 0) + thoughts,
        cache_read_tokens=metadata.cached_content_token_count or 0,
        reasoning_tokens=thoughts,
    )


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------


def map_google_error(exc: BaseException, *, secrets: tuple[str, ...] = ()) -> ProviderError:
    """Classify anything the SDK raised (README §3.5). ``secrets`` are removed from the text."""
    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, genai_errors.APIError):
        return _map_api_error(exc, secrets)
    if isinstance(exc, TimeoutError):
        return ProviderError(provider=PROVIDER, category="network", detail="the request timed out")
    if isinstance(exc, aiohttp.ClientError | httpx2.TransportError | OSError):
        detail = redact(f"{type(exc).__name__}: {exc}", secrets)
        return ProviderError(provider=PROVIDER, category="network", detail=detail)
    detail = redact(f"unexpected response ({type(exc).__name__}): {exc}", secrets)
    return ProviderError(provider=PROVIDER, category="upstream", detail=detail)


def _map_api_error(exc: genai_errors.APIError, secrets: tuple[str, ...]) -> ProviderError:
    code = exc.code if isinstance(exc.code, int) else None
    status = exc.status or ""
    message = redact(exc.message or status or "no error message", secrets)
    details = _error_details(exc.details)
    category: ErrorCategory
    retry_after = None
    if (
        code in (401, 403)
        or status in ("UNAUTHENTICATED", "PERMISSION_DENIED")
        or any(detail.get("reason") == "API_KEY_INVALID" for detail in details)
    ):
        category = "auth"
    elif code == 429 or status == "RESOURCE_EXHAUSTED":
        category = "rate_limited"
        retry_after = _retry_delay(details) or retry_after_seconds(getattr(exc.response, "headers", None))
    elif code == 503 or status == "UNAVAILABLE":
        category = "overloaded"
    elif code is not None and code >= 500:
        category = "upstream"
    elif code == 408:
        category = "network"
    elif _CONTEXT_LENGTH_MESSAGE.search(message):
        category = "context_length"
    else:
        category = "bad_request"
    return ProviderError(
        provider=PROVIDER, category=category, detail=message, status=code, retry_after_seconds=retry_after
    )


def _error_details(body: Any) -> list[dict[str, Any]]:
    """The ``google.rpc.Status.details`` list of an error body (``{"error": {...}}``)."""
    error = body.get("error", body) if isinstance(body, dict) else None
    details = error.get("details") if isinstance(error, dict) else None
    return [detail for detail in details if isinstance(detail, dict)] if isinstance(details, list) else []


def _retry_delay(details: list[dict[str, Any]]) -> float | None:
    # google.rpc.RetryInfo.retryDelay is a protobuf Duration in JSON form: "27s", "0.5s".
    for detail in details:
        delay = detail.get("retryDelay")
        if isinstance(delay, str) and (match := _RETRY_DELAY.match(delay)):
            return float(match.group(1))
    return None
