"""The retry policy of the loop (pure: no sleeping, a recorded sleep function)."""

from __future__ import annotations

from backend.errors import ProviderError
from backend.loop import RetryPolicy


def test_retry_after_is_honoured_within_the_cap() -> None:
    policy = RetryPolicy(max_attempts=3, base_delay=0.5, max_delay=8.0, max_retry_after=20.0)
    error = ProviderError(provider="p", category="rate_limited", retry_after_seconds=2)
    assert policy.delay(1, error) == 2
    assert policy.delay(3, error) is None  # attempts used up
    long_wait = ProviderError(provider="p", category="rate_limited", retry_after_seconds=60)
    assert policy.delay(1, long_wait) is None  # longer than the cap: fail now, say when to retry


def test_backoff_grows_and_is_capped() -> None:
    policy = RetryPolicy(max_attempts=10, base_delay=0.5, max_delay=3.0)
    error = ProviderError(provider="p", category="overloaded")
    delays = [policy.delay(attempt, error) for attempt in range(1, 6)]
    assert all(delay is not None for delay in delays)
    assert 0.375 <= delays[0] <= 0.5 and delays[-1] == 3.0  # type: ignore[operator]


def test_not_retryable_errors() -> None:
    policy = RetryPolicy()
    for category in ("auth", "bad_request", "context_length", "content_filter"):
        assert policy.delay(1, ProviderError(provider="p", category=category)) is None  # type: ignore[arg-type]
    quota = ProviderError(provider="openai", category="rate_limited", retryable=False)
    assert policy.delay(1, quota) is None


def test_error_messages_name_the_provider_and_never_a_key() -> None:
    error = ProviderError(
        provider="openai",
        category="auth",
        status=401,
        detail="Incorrect API key provided: sk-proj-abcdefghijklmnopqrstuvwxyz123456",
    )
    assert error.public_message.startswith("openai: authentication failed")
    assert "sk-proj" not in error.public_message and "(HTTP 401)" in error.public_message
