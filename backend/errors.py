"""The one exception tree of Chatwire.

::

    ChatwireError                 base; ``public_message`` is always safe to show a user; ``code`` names the case
    ├── RequestError              the client sent something wrong → an error before a stream starts
    ├── ConfigError               a preset or setting is invalid → fails startup / reload, names file+field
    ├── ProviderError             a provider call failed; ``category`` is one of ErrorCategory (a history
    │                             the provider cannot take is ``bad_request``)
    └── ToolError                 a tool failed (``backend/tools``); shown as is

Providers raise only ``ProviderError`` (one ``map_<provider>_error`` function each maps their
SDK's exceptions; nothing else inspects SDK exception classes) and tools only ``ToolError``.
No error here carries an HTTP status: each front door maps ``code`` to its own wire (``web/``
turns it into a status and ``{"error": {"code", "message", ...}}``), and the loop turns
``ProviderError`` into an ``error`` chunk once a stream has started. Messages never contain an API key: they are built
from a category, a provider name and the provider's own error text, which is passed through
:func:`redact` first.
"""

from __future__ import annotations

import re
from typing import Literal, TypeAlias

ErrorCategory: TypeAlias = Literal[
    "auth",
    "rate_limited",
    "overloaded",
    "context_length",
    "content_filter",
    "bad_request",
    "network",
    "upstream",
    "timeout",
]

# Categories worth another attempt when nothing has been streamed yet.
RETRYABLE_CATEGORIES: frozenset[ErrorCategory] = frozenset(
    {"rate_limited", "overloaded", "network", "upstream", "timeout"}
)

_CATEGORY_TEXT: dict[ErrorCategory, str] = {
    "auth": "authentication failed (check the API key)",
    "rate_limited": "rate limit reached",
    "overloaded": "the service is overloaded",
    "context_length": "the conversation is too long for the model's context window",
    "content_filter": "the request was blocked by a content filter",
    "bad_request": "the request was rejected",
    "network": "could not reach the service",
    "upstream": "the service failed",
    "timeout": "the service did not answer in time",
}

# Things that look like credentials: provider key prefixes and long opaque tokens.
_SECRET_PATTERN = re.compile(
    r"(sk-[A-Za-z0-9_\-]{6,}|sk_[A-Za-z0-9_\-]{6,}|AIza[0-9A-Za-z_\-]{10,}|"
    r"(?i:bearer)\s+[A-Za-z0-9._\-]{8,}|[A-Za-z0-9_\-]{40,})"
)


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Remove known secrets and anything shaped like a key from ``text``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    return _SECRET_PATTERN.sub("[redacted]", text)


class ChatwireError(Exception):
    """Base class. ``public_message`` is safe to send to a client."""

    code: str = "error"

    def __init__(self, public_message: str) -> None:
        super().__init__(public_message)
        self.public_message = public_message


class RequestError(ChatwireError):
    """A request the core refuses before any stream starts. ``code`` says why (front doors
    map it to their status: ``stream_active`` is a conflict, ``body_too_large`` too large...)."""

    def __init__(
        self,
        public_message: str,
        *,
        code: str = "bad_request",
        details: dict[str, object] | None = None,
    ) -> None:
        super().__init__(public_message)
        self.code = code
        self.details = details or {}


class ToolError(ChatwireError):
    """An expected tool failure; the message is safe to show the user and the model."""

    code = "tool_failed"

    def __init__(self, public_message: str) -> None:
        super().__init__(public_message)


class ConfigError(ChatwireError):
    """An invalid preset file or setting; the message names the file and the field."""


class ProviderError(ChatwireError):
    """A failed provider call, already classified.

    ``code`` is ``provider_error``, or what ``unsupported_input`` says (``unsupported_file``).

    ``detail`` is the provider's own (redacted) error text, kept short; ``status`` the HTTP
    status if there was one; ``retry_after_seconds`` what the provider asked us to wait.
    """

    def __init__(
        self,
        *,
        provider: str,
        category: ErrorCategory,
        detail: str = "",
        status: int | None = None,
        retry_after_seconds: float | None = None,
        retryable: bool | None = None,
        message: str | None = None,
    ) -> None:
        detail = redact(detail)[:300]
        if message is None:
            message = f"{provider}: {_CATEGORY_TEXT[category]}"
            if status is not None:
                message += f" (HTTP {status})"
            if detail:
                message += f": {detail}"
        super().__init__(message)
        self.code = "provider_error"
        self.provider = provider
        self.category = category
        self.detail = detail
        self.status = status
        self.retry_after_seconds = retry_after_seconds
        # None: decided by the category; False for errors a retry cannot fix (exhausted quota).
        self._retryable = retryable

    @classmethod
    def unsupported_input(cls, provider: str, message: str, code: str = "unsupported_file") -> ProviderError:
        """Something in the call this provider cannot take (a file type, an option): ``message``
        names it. Raised before any I/O, never retried."""
        error = cls(provider=provider, category="bad_request", retryable=False, message=message)
        error.code = code
        return error

    @property
    def retryable(self) -> bool:
        if self._retryable is not None:
            return self._retryable
        return self.category in RETRYABLE_CATEGORIES


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``retry-after`` / ``retry-after-ms`` style header value, or ``None``."""
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if seconds >= 0 else None
