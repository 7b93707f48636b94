"""What the two OpenAI providers share: the client, the error mapping and small converters.

``openai_responses`` (provider ``openai``) and ``openai_chat`` (provider ``openai-chat``) talk to
different endpoints but through the same SDK, so they fail the same way. Everything here is
vendor vocabulary; nothing outside these three modules imports it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import openai

from backend.errors import ErrorCategory, ProviderError, redact
from backend.events import JsonValue
from backend.messages import FileContent, ToolResultContent
from backend.providers.base import ProviderConfig
from backend.providers.shared import connection_limits, retry_after_seconds
from backend.providers.tls import shared_tls_context

DEFAULT_BASE_URL = "https://api.openai.com/v1"

# Keyless servers (Ollama, llama.cpp, vLLM) ignore the Authorization header, but the SDK refuses
# to build a client without a key (and would read OPENAI_API_KEY from the environment, which only
# settings.py may do). The placeholder is never logged: ProviderConfig.__repr__ hides keys.
_NO_KEY_PLACEHOLDER = "not-needed"

# Codes and types OpenAI (and OpenAI-compatible servers) use for "try again later, we're full".
# https://platform.openai.com/docs/guides/error-codes ; the nested mid-stream shape is from
# https://github.com/Wei-Shaw/sub2api/issues/6631 (README §2.2).
_OVERLOADED_CODES = frozenset({"server_is_overloaded", "service_unavailable_error", "overloaded", "slow_down"})
_CONTEXT_CODES = frozenset({"context_length_exceeded", "string_above_max_length_context"})
_CONTENT_FILTER_CODES = frozenset({"content_policy_violation", "content_filter", "content_filtered"})
_RATE_LIMIT_CODES = frozenset({"rate_limit_exceeded", "rate_limit_error", "requests", "tokens"})
_QUOTA_CODES = frozenset({"insufficient_quota", "billing_hard_limit_reached"})
_AUTH_CODES = frozenset({"invalid_api_key", "authentication_error", "permission_error"})
_BAD_REQUEST_TYPES = frozenset({"invalid_request_error", "invalid_prompt", "not_found_error"})


def create_client(config: ProviderConfig) -> openai.AsyncOpenAI:
    """An SDK client that never retries (the loop owns retries, see ``providers/base.py``).

    It uses the SDK's aiohttp transport (about 0.75x the CPU per token of its default httpx2
    transport, measured on the chat and responses streams) with one process-wide TLS context:
    building a client would otherwise load the certifi bundle again (~50 ms of CPU), and the
    web layer builds a model per chat request.
    """
    timeout = openai.Timeout(config.timeout_seconds, connect=config.connect_timeout_seconds)
    return openai.AsyncOpenAI(
        api_key=config.api_key or _NO_KEY_PLACEHOLDER,
        # Always explicit: with None the SDK would read OPENAI_BASE_URL (only settings.py reads
        # the environment).
        base_url=config.base_url or DEFAULT_BASE_URL,
        max_retries=0,
        timeout=timeout,
        default_headers=dict(config.headers) or None,
        http_client=openai.DefaultAioHttpClient(
            verify=shared_tls_context(), timeout=timeout, limits=connection_limits(config)
        ),
    )


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------


def map_openai_error(error: BaseException, *, provider: str, api_key: str | None = None) -> ProviderError:
    """Classify any exception the openai SDK raised into one :class:`ProviderError`.

    ``insufficient_quota`` is a 429 like a rate limit, but waiting does not help (the account
    is out of credit), so it carries no ``retry_after_seconds`` and says so in its detail.
    """
    secrets = (api_key,) if api_key else ()
    if isinstance(error, openai.APITimeoutError):
        return ProviderError(provider=provider, category="network", detail="the request timed out")
    if isinstance(error, openai.APIConnectionError):
        return ProviderError(provider=provider, category="network", detail=redact(str(error), secrets))
    if isinstance(error, openai.APIStatusError):
        return _from_status_error(error, provider=provider, secrets=secrets)
    if isinstance(error, openai.APIError):
        # Mid-stream `{"error": {...}}` chunk: the SDK raises a bare APIError without a status.
        return classify_error_code(
            provider=provider,
            code=error.code,
            error_type=error.type,
            message=redact(_error_message(error), secrets),
        )
    # Anything else the stream raised (a malformed data line): the service sent something broken.
    return ProviderError(provider=provider, category="upstream", detail=redact(str(error), secrets))


def _from_status_error(error: openai.APIStatusError, *, provider: str, secrets: tuple[str, ...]) -> ProviderError:
    status = error.status_code
    message = redact(_error_message(error), secrets)
    code = (error.code or "").lower()
    if isinstance(error, openai.AuthenticationError | openai.PermissionDeniedError):
        return ProviderError(provider=provider, category="auth", detail=message, status=status)
    if status == 429:
        if code in _QUOTA_CODES or (error.type or "") in _QUOTA_CODES:
            detail = f"quota exhausted, retrying will not help: {message}"
            return ProviderError(
                provider=provider, category="rate_limited", detail=detail, status=status, retryable=False
            )
        retry_after = retry_after_seconds(error.response.headers)
        return ProviderError(
            provider=provider,
            category="rate_limited",
            detail=message,
            status=status,
            retry_after_seconds=retry_after,
        )
    classified = classify_error_code(provider=provider, code=error.code, error_type=error.type, message=message)
    if classified.category in ("context_length", "content_filter", "overloaded"):
        return ProviderError(provider=provider, category=classified.category, detail=message, status=status)
    category: ErrorCategory
    if status in (503, 529):
        category = "overloaded"
    elif status == 408:
        category = "network"
    elif status >= 500 or status == 409:
        category = "upstream"
    else:
        category = "bad_request"
    retry_after = retry_after_seconds(error.response.headers) if category != "bad_request" else None
    return ProviderError(
        provider=provider, category=category, detail=message, status=status, retry_after_seconds=retry_after
    )


def classify_error_code(*, provider: str, code: str | None, error_type: str | None, message: str) -> ProviderError:
    """Classify an error known only by its ``code`` / ``type`` / message (no HTTP status).

    Used for mid-stream errors: the Responses ``error`` event, ``response.failed`` and the
    ``{"error": {...}}`` chunk. Some compatible servers (OpenRouter) put an HTTP status number
    in ``code``; it is honoured.
    """
    code_text = (code or "").lower()
    type_text = (error_type or "").lower()
    lowered = message.lower()
    category: ErrorCategory
    if code_text.isdigit():
        return _from_numeric_code(provider=provider, status=int(code_text), message=message)
    if code_text in _OVERLOADED_CODES or type_text in _OVERLOADED_CODES:
        category = "overloaded"
    elif code_text in _CONTEXT_CODES or "maximum context length" in lowered or "context window" in lowered:
        category = "context_length"
    elif code_text in _CONTENT_FILTER_CODES or type_text in _CONTENT_FILTER_CODES:
        category = "content_filter"
    elif code_text in _QUOTA_CODES or type_text in _QUOTA_CODES:
        return ProviderError(
            provider=provider,
            category="rate_limited",
            detail=f"quota exhausted, retrying will not help: {message}",
            retryable=False,
        )
    elif code_text in _RATE_LIMIT_CODES or "rate_limit" in type_text:
        category = "rate_limited"
    elif code_text in _AUTH_CODES or type_text in _AUTH_CODES:
        category = "auth"
    elif type_text in _BAD_REQUEST_TYPES or code_text.startswith("invalid_"):
        category = "bad_request"
    else:
        category = "upstream"
    return ProviderError(provider=provider, category=category, detail=message)


def _from_numeric_code(*, provider: str, status: int, message: str) -> ProviderError:
    category: ErrorCategory
    if status in (401, 403):
        category = "auth"
    elif status == 429:
        category = "rate_limited"
    elif status in (503, 529):
        category = "overloaded"
    elif status >= 500:
        category = "upstream"
    else:
        category = "bad_request"
    return ProviderError(provider=provider, category=category, detail=message, status=status)


def _error_message(error: openai.APIError) -> str:
    """The provider's own message (``error.message`` in the body), not the SDK's wrapper text."""
    body = error.body
    if isinstance(body, Mapping):
        message = body.get("message")
        if isinstance(message, str) and message:
            return message
    return error.message


# ---------------------------------------------------------------------------------------------
# Small converters shared by both request builders
# ---------------------------------------------------------------------------------------------


def arguments_json(tool_input: JsonValue) -> str:
    """A tool call's input as the JSON text both APIs expect in ``arguments``.

    A string is passed through: the neutral history keeps input the model produced that was
    not valid JSON as its raw text.
    """
    if isinstance(tool_input, str):
        return tool_input
    return json.dumps(tool_input, ensure_ascii=False, separators=(",", ":"))


def tool_result_text(result: ToolResultContent) -> str:
    """A tool result as the string both APIs take; errors and denials are spelled out."""
    if result.kind == "denied":
        reason = result.output if isinstance(result.output, str) and result.output else None
        return f"Tool call denied by the user: {reason}" if reason else "Tool call denied by the user."
    if result.kind == "error":
        text = result.output if isinstance(result.output, str) else json.dumps(result.output)
        return f"Tool call failed: {text}"
    if isinstance(result.output, str):
        return result.output
    return json.dumps(result.output, ensure_ascii=False)


def file_url(content: FileContent) -> str:
    """An http(s) URL as given, or the bytes as a ``data:`` URL."""
    if content.url is not None:
        return content.url
    return f"data:{full_media_type(content)};base64,{content.base64_text()}"


def full_media_type(content: FileContent) -> str:
    """``image`` alone (the AI SDK allows a top-level type) becomes the sniffed image type."""
    if "/" in content.media_type:
        return content.media_type
    data = content.head(16)
    for magic, media_type in _IMAGE_MAGIC:
        if data.startswith(magic):
            return media_type
    if data[8:12] == b"WEBP":
        return "image/webp"
    return f"{content.media_type}/octet-stream" if content.media_type != "image" else "image/png"


_IMAGE_MAGIC = (
    (b"\x89PNG", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF8", "image/gif"),
)


def is_image(content: FileContent) -> bool:
    return content.media_type == "image" or content.media_type.startswith("image/")


def unsupported_file(content: FileContent, provider: str) -> ProviderError:
    return ProviderError.unsupported_input(
        provider, f"{provider} cannot read the file at {content.part_path or 'a message part'} ({content.media_type})"
    )
