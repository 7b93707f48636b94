"""The retry policy of the loop (pure: no sleeping, a recorded sleep function), and retries
after partial output with a scripted ``ChatModel`` (the loop's own protocol, not a mock)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

from backend.aisdk.assemble import UIMessageAssembler
from backend.aisdk.encode import UIMessageStreamEncoder
from backend.errors import ProviderError
from backend.events import (
    AnswerModelChanged,
    ChatError,
    ChatEvent,
    Finish,
    ProviderEvent,
    StepReset,
    StepStart,
    TextDelta,
    TextEnd,
    TextStart,
    Usage,
)
from backend.loop import Fallback, Fallbacks, RetryPolicy, run_chat
from backend.messages import TextContent, UserMessage
from backend.providers.base import ModelCall


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


# ---------------------------------------------------------------------------------------------
# Retries after partial output (issue 14): reset-step, retry-after, one attempt budget, fallbacks


class FailingAfterOutput:
    """A ChatModel whose first ``failures`` calls stream some text and then raise ``error``."""

    provider = "scripted"

    def __init__(self, error: ProviderError, failures: int, text: str = "done") -> None:
        self.error, self.failures, self.text, self.calls = error, failures, text, 0

    async def stream(self, call: ModelCall) -> AsyncIterator[ProviderEvent]:
        self.calls += 1
        yield TextStart("0")
        if self.calls <= self.failures:
            yield TextDelta("0", "partial ")
            raise self.error
        yield TextDelta("0", self.text)
        yield TextEnd("0")
        yield Finish("stop", "end_turn", Usage(3, 2))

    async def aclose(self) -> None:
        pass


async def run(model: FailingAfterOutput, **options: Any) -> tuple[list[ChatEvent], list[float]]:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    call = ModelCall(model="m", messages=(UserMessage((TextContent("hi"),)),), max_tokens=10)
    events = [event async for event in run_chat(model, call, sleep=sleep, **options)]
    return events, slept


def assembled(events: list[ChatEvent]) -> dict[str, Any]:
    encoder, assembler = UIMessageStreamEncoder(), UIMessageAssembler("m1")
    for event in events:
        for chunk in encoder.encode(event):
            assembler.add(chunk)
    return assembler.message


async def test_overload_after_output_resets_the_step_and_honours_retry_after() -> None:
    error = ProviderError(provider="p", category="overloaded", retry_after_seconds=1.5)
    events, slept = await run(FailingAfterOutput(error, failures=1))
    assert [type(event) for event in events].count(StepStart) == 1
    assert StepReset("overloaded", 2) in events and not any(isinstance(event, ChatError) for event in events)
    assert slept == [1.5]
    assert assembled(events)["parts"] == [{"type": "step-start"}, {"type": "text", "text": "done", "state": "done"}]


async def test_attempts_after_output_share_the_budget_then_error() -> None:
    error = ProviderError(provider="p", category="upstream")
    model = FailingAfterOutput(error, failures=5)
    events, slept = await run(model, policy=RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.01))
    assert model.calls == 3 and len(slept) == 2
    assert [event for event in events if isinstance(event, StepReset)] == [
        StepReset("upstream", 2),
        StepReset("upstream", 3),
    ]
    assert isinstance(events[-1], ChatError)
    # The client (and the saved message) hold only the last attempt's partial text.
    texts = [part["text"] for part in assembled(events)["parts"] if part["type"] == "text"]
    assert texts == ["partial "]


async def test_a_non_retryable_error_after_output_ends_with_an_error() -> None:
    events, slept = await run(FailingAfterOutput(ProviderError(provider="p", category="content_filter"), failures=1))
    assert slept == [] and not any(isinstance(event, StepReset) for event in events)
    assert isinstance(events[-1], ChatError) and events[-1].category == "content_filter"


async def test_a_fallback_continues_the_same_step() -> None:
    primary = FailingAfterOutput(ProviderError(provider="p", category="overloaded"), failures=9)
    backup = FailingAfterOutput(ProviderError(provider="q", category="overloaded"), failures=0, text="from backup")

    @asynccontextmanager
    async def open_backup() -> AsyncIterator[FailingAfterOutput]:
        yield backup

    fallbacks = Fallbacks(
        {"preset": "primary"},
        frozenset({"overloaded"}),
        (Fallback({"preset": "backup"}, open_backup, lambda call: replace(call, model="backup-model")),),
    )
    events, _ = await run(primary, policy=RetryPolicy(max_attempts=2, base_delay=0.01), fallbacks=fallbacks)
    assert primary.calls == 2 and backup.calls == 1
    assert AnswerModelChanged({"preset": "backup"}, {"preset": "primary"}, "overloaded") in events
    assert [type(event) for event in events].count(StepStart) == 1
    message = assembled(events)
    assert [part.get("text") for part in message["parts"]] == [None, "from backup"]
    assert message["metadata"]["fallbackFrom"] == {"preset": "primary", "reason": "overloaded"}
