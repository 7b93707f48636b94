"""Error shapes of the two compatible APIs (statuses are chosen in ``backend/web/gateway.py``).

OpenAI: ``{"error": {"message", "type", "param", "code"}}``
(https://platform.openai.com/docs/guides/error-codes). Anthropic:
``{"type": "error", "error": {"type", "message"}}``
(https://docs.anthropic.com/en/api/errors). A provider failure is classified by its category;
a refused request by the core's ``RequestError.code``.
"""

from __future__ import annotations

from typing import Any

from backend.errors import ErrorCategory

# category → (OpenAI type, OpenAI code)
OPENAI_PROVIDER_ERRORS: dict[ErrorCategory, tuple[str, str]] = {
    "auth": ("upstream_error", "upstream_authentication_failed"),
    "rate_limited": ("rate_limit_error", "rate_limit_exceeded"),
    "overloaded": ("server_error", "overloaded"),
    "context_length": ("invalid_request_error", "context_length_exceeded"),
    "content_filter": ("invalid_request_error", "content_filter"),
    "bad_request": ("invalid_request_error", "upstream_bad_request"),
    "network": ("upstream_error", "upstream_unreachable"),
    "upstream": ("upstream_error", "upstream_error"),
}

# category → Anthropic error type (the upstream's key is the server's, not the caller's: api_error)
ANTHROPIC_PROVIDER_ERRORS: dict[ErrorCategory, str] = {
    "auth": "api_error",
    "rate_limited": "rate_limit_error",
    "overloaded": "overloaded_error",
    "context_length": "invalid_request_error",
    "content_filter": "invalid_request_error",
    "bad_request": "invalid_request_error",
    "network": "api_error",
    "upstream": "api_error",
}

# The core's RequestError codes that are not plain invalid requests.
_REQUEST_CODES_OPENAI: dict[str, tuple[str, str]] = {
    "unknown_preset": ("invalid_request_error", "model_not_found"),
    "missing_api_key": ("server_error", "missing_api_key"),
    "not_supported": ("invalid_request_error", "not_supported"),
    "unauthorized": ("invalid_request_error", "invalid_api_key"),
}
_REQUEST_CODES_ANTHROPIC: dict[str, str] = {
    "unknown_preset": "not_found_error",
    "missing_api_key": "api_error",
    "not_supported": "invalid_request_error",
    "unauthorized": "authentication_error",
    "body_too_large": "request_too_large",
    "limit_exceeded": "request_too_large",
}


def openai_error(message: str, error_type: str, code: str | None = None, param: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": error_type, "param": param, "code": code}}


def anthropic_error(message: str, error_type: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": error_type, "message": message}}


def openai_request_error(message: str, code: str, field: object = None) -> dict[str, Any]:
    error_type, wire_code = _REQUEST_CODES_OPENAI.get(code, ("invalid_request_error", code))
    param = "model" if code == "unknown_preset" else (field if isinstance(field, str) else None)
    return openai_error(message, error_type, wire_code, param)


def anthropic_request_error(message: str, code: str) -> dict[str, Any]:
    return anthropic_error(message, _REQUEST_CODES_ANTHROPIC.get(code, "invalid_request_error"))


def openai_provider_error(message: str, category: str) -> dict[str, Any]:
    error_type, code = OPENAI_PROVIDER_ERRORS.get(category, ("upstream_error", "upstream_error"))  # type: ignore[call-overload]
    return openai_error(message, error_type, code)


def anthropic_provider_error(message: str, category: str) -> dict[str, Any]:
    return anthropic_error(message, ANTHROPIC_PROVIDER_ERRORS.get(category, "api_error"))  # type: ignore[call-overload]
