"""Anthropic Messages API provider (``anthropic`` SDK for the request, our own parse of the stream).

Outline (as every provider): ``create`` → ``AnthropicModel.stream`` → ``to_anthropic_params``
(in ``anthropic_params.py``) → ``StreamTranslator`` (in ``anthropic_stream.py``) →
``map_anthropic_{stop_reason,usage}`` (there too) and ``map_anthropic_error`` (here).

The request is the SDK's (auth, base URL, headers, timeouts, the pooled connection, error statuses →
its exceptions), made with ``client.post(cast_to=httpx.Response, stream=True)``: the SDK's raw-
request API, which hands back the open HTTP response instead of an event iterator; the body is
encoded by orjson (``request_body``). We split the body's SSE ourselves (``event_stream.py``) and
translate ``orjson`` dicts. The SDK's own iterator built a pydantic model per event, the largest
per-token cost (docs/benchmarks.md). Its ``.stream()`` helper is dearer still: it re-accumulates a
snapshot on every delta. Wire reference: ../shared/provider-wire/README.md §1; metadata shapes
follow the AI SDK's Anthropic provider (``packages/anthropic/src/anthropic-language-model.ts``). See
docs/providers/anthropic.md.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from typing import Any, Final, cast

import anthropic
import httpx2
import orjson

from backend.errors import ErrorCategory, ProviderError, redact
from backend.events import ProviderEvent
from backend.providers.anthropic_params import AnthropicParams, to_anthropic_params
from backend.providers.anthropic_stream import (
    StreamTranslator,
    WireEvent,
    map_anthropic_stop_reason,
    map_anthropic_usage,
)
from backend.providers.base import ChatModel, ModelCall, ProviderConfig
from backend.providers.event_stream import EventStreamParser
from backend.providers.shared import (
    JSON_HEADERS,
    connection_limits,
    endpoint_url,
    json_body,
    retry_after_seconds,
    stream_timeout,
)
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
# SSE events the SDK's iterator skipped (`_streaming.py` `AsyncStream.__stream__`): keep-alives
# and events without an `event:` field.
_SKIPPED_EVENTS: Final = frozenset({b"", b"ping"})

# What can be raised while a call is made or read: the SDK's errors (the request, error statuses,
# and the mid-stream `event: error` we raise as its `APIStatusError`), the HTTP library's errors
# escaping from body iteration (the SDK wraps only the request phase), and a malformed `data:`
# (orjson.JSONDecodeError is a json.JSONDecodeError).
_SDK_FAILURES = (anthropic.AnthropicError, httpx2.HTTPError, json.JSONDecodeError)


async def request_body(params: AnthropicParams) -> bytes:
    """The Messages API body (``shared.json_body``), with ``extra_body`` merged in as the SDK would."""
    fields: dict[str, object] = dict(params)
    extra = fields.pop("extra_body", None)
    return await json_body(fields, extra if isinstance(extra, dict) else None)


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
        self._messages_url = endpoint_url(self._client.base_url, "/v1/messages")
        self._stream_timeout = stream_timeout(config)

    async def stream(self, call: ModelCall) -> AsyncIterator[ProviderEvent]:
        """One model call. Raises ``ProviderError`` for every failure, after the events that
        already arrived; leaving the iteration early closes the HTTP response."""
        params = to_anthropic_params(call)  # RequestError for unsupported input, before any I/O
        translator = StreamTranslator()
        parser = EventStreamParser()
        try:
            # The SDK's documented call for a raw request (`client.post`, cast to the HTTP response):
            # it streams the unread body back. `finally` closes it on cancel/aclose as well.
            content = await request_body(params)
            body = cast(
                httpx2.Response,
                await self._client.post(
                    self._messages_url,
                    cast_to=httpx2.Response,
                    content=content,
                    options={"headers": JSON_HEADERS, "timeout": self._stream_timeout},
                    stream=True,
                ),
            )
            try:
                async for chunk in body.aiter_bytes():
                    for name, data in parser.feed(chunk):
                        for provider_event in _translate(translator, name, data, body):
                            yield provider_event
                for name, data in parser.finish():
                    for provider_event in _translate(translator, name, data, body):
                        yield provider_event
            finally:
                await body.aclose()
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


def _translate(
    translator: StreamTranslator, name: bytes, data: bytes, body: httpx2.Response
) -> Sequence[ProviderEvent]:
    """One SSE event → provider events, with the SDK iterator's rules: skip keep-alives, events
    without a name or without data; raise ``event: error`` as the SDK's ``APIStatusError``."""
    if name in _SKIPPED_EVENTS:
        return _NOTHING
    if name == b"error":
        raise _stream_error(data, body)
    if not data:
        return _NOTHING
    event = orjson.loads(data)
    if not isinstance(event, dict):
        return _NOTHING
    try:
        return translator.translate(cast(WireEvent, event))
    except (KeyError, TypeError, AttributeError) as exc:  # a field missing, or of another JSON type
        detail = f"a malformed {event.get('type')!r} event ({type(exc).__name__}: {exc})"
        raise ProviderError(provider=PROVIDER, category="upstream", detail=detail) from None


def _stream_error(data: bytes, body: httpx2.Response) -> anthropic.APIStatusError:
    """A mid-stream ``event: error`` (e.g. ``overloaded_error``), built as the SDK built it
    (``AsyncStream.__stream__``): its message is the body's ``repr`` and the status the stream's 200,
    so ``map_anthropic_error`` classifies it by ``error.type`` exactly as before."""
    error_body: object
    try:
        error_body = orjson.loads(data)
        message = f"{error_body}"
    except orjson.JSONDecodeError:
        error_body = data.decode("utf-8", "replace")
        message = error_body or f"Error code: {body.status_code}"
    return anthropic.APIStatusError(message, response=body, body=error_body)


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
    if isinstance(exc, json.JSONDecodeError):  # orjson's texts quote the input: keep only where
        return ProviderError(provider=PROVIDER, category="upstream", detail=f"an event that is not JSON (at {exc.pos})")
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
