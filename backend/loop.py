"""``run_chat``: the steps of one answer, between a provider and the encoder.

The loop is the only place that *decides*: it frames steps (``StepStart``/``StepEnd``), retries a
failed model call (429/529/5xx/network, with exponential backoff that honours the provider's
retry-after up to a cap), turns every ``ProviderError`` into one ``ChatError`` with a safe
message, runs server-side tools between steps through a ``ToolRunner`` and stops at the
preset's ``max_steps``. Client-side tools end the step: their calls go to the browser and the
answer comes back in the next request.

A retry after the step has streamed something first voids that output with ``StepReset``
(ai@7's ``reset-step``: the client drops the step's parts and keeps its ``step-start``), then the
step runs again inside the same step. Retries before and after the first event share one
attempt budget. When the budget is spent on a category the preset lists in ``fallback_on``,
the next fallback model (another preset) continues the same step: ``StepReset`` if anything
streamed, then ``AnswerModelChanged``.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from backend.errors import ProviderError
from backend.events import (
    AnswerModelChanged,
    ChatError,
    ChatEvent,
    ChatFinish,
    Finish,
    FinishReason,
    StepEnd,
    StepReset,
    StepStart,
    ToolCall,
    Usage,
)
from backend.messages import AssistantMessage, Message, ToolMessage
from backend.providers.base import ChatModel, ModelCall
from backend.steps import assistant_message_from_events
from backend.upstream_wait import UpstreamTimeouts, guarded

logger = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Retries of one model call (before or after its first event). Delays in seconds."""

    max_attempts: int = 3
    base_delay: float = 0.5
    max_delay: float = 8.0
    # A provider asking us to wait longer than this gets no retry: the user sees the error at once.
    max_retry_after: float = 20.0

    def delay(self, attempt: int, error: ProviderError) -> float | None:
        """Seconds to wait before attempt ``attempt + 1``, or ``None`` to give up."""
        if not error.retryable or attempt >= self.max_attempts:
            return None
        if error.retry_after_seconds is not None:
            if error.retry_after_seconds > self.max_retry_after:
                return None
            return min(error.retry_after_seconds, self.max_delay)
        backoff: float = self.base_delay * (2 ** (attempt - 1)) * random.uniform(0.75, 1.0)
        return min(backoff, self.max_delay)


@dataclass(frozen=True, slots=True)
class StepOutcome:
    """What a step produced, for deciding whether to continue."""

    assistant: AssistantMessage
    tool_calls: tuple[ToolCall, ...]
    finish: Finish


class ToolRunner(Protocol):
    """Runs the server-side tool calls of a step (see ``backend/tools``).

    ``run`` yields chat events (results, failures, approval requests) and returns, through
    ``results``, the tool message to send back; ``None`` means the step's calls are not all
    ours to run (client tools or pending approvals), so the answer ends here.
    """

    def run(self, calls: Sequence[ToolCall], sink: list[ToolMessage | None]) -> AsyncIterator[ChatEvent]: ...


@dataclass(frozen=True, slots=True)
class Fallback:
    """Another model to continue the answer with (a fallback preset, prepared by the core).

    ``description`` is its public view (preset, provider, model); ``open_model`` opens it;
    ``adapt`` turns the answer's call into its call (its model name, sampling, options);
    ``fallback_on`` are the categories on which *it* hands over to the next fallback.
    """

    description: Mapping[str, Any]
    open_model: Callable[[], AbstractAsyncContextManager[ChatModel]]
    adapt: Callable[[ModelCall], ModelCall]
    fallback_on: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Fallbacks:
    """The primary model's description and fallback categories, and the fallbacks in order."""

    description: Mapping[str, Any] = field(default_factory=dict)
    fallback_on: frozenset[str] = frozenset()
    chain: tuple[Fallback, ...] = ()


async def _stream_with_retries(
    model: ChatModel,
    call: ModelCall,
    policy: RetryPolicy,
    sleep: Sleep,
    idle: float | None,
    deadline: float | None,
    on_retry: Callable[[ProviderError], None] | None,
    resettable: bool = True,
) -> AsyncIterator[ChatEvent]:
    """The call's events; a retry after output is announced with ``StepReset`` first (only where
    the front door's wire can take back what streamed: ``resettable``)."""
    attempt = 1
    while True:
        started = False
        try:
            async for event in guarded(model.stream(call), model.provider, idle, deadline):
                started = True
                yield event
            return
        except ProviderError as error:
            delay = policy.delay(attempt, error) if resettable or not started else None
            if delay is None:
                raise
            logger.info("retrying %s after %s (attempt %d, %.2fs)", error.provider, error.category, attempt, delay)
            if on_retry is not None:
                on_retry(error)
            attempt += 1
            if started:
                yield StepReset(error.category, attempt)
            await sleep(delay)


def _outcome(events: list[ChatEvent]) -> StepOutcome:
    calls = tuple(event for event in events if isinstance(event, ToolCall) and not event.provider_executed)
    finish = next((event for event in reversed(events) if isinstance(event, Finish)), Finish("other"))
    return StepOutcome(assistant_message_from_events(events), calls, finish)


async def run_chat(
    model: ChatModel,
    call: ModelCall,
    *,
    policy: RetryPolicy | None = None,
    tools: ToolRunner | None = None,
    max_steps: int = 1,
    sleep: Sleep = asyncio.sleep,
    usage: Usage | None = None,
    fallbacks: Fallbacks | None = None,
    timeouts: UpstreamTimeouts | None = None,
    on_retry: Callable[[ProviderError], None] | None = None,
    resettable: bool = True,
) -> AsyncIterator[ChatEvent]:
    """Stream the chat events of one answer. Never raises ``ProviderError``: it becomes ``ChatError``.

    ``usage``: what the answer already cost before this request (a continued message), so the
    final usage covers all of it. ``fallbacks``: who answers when ``model`` gives up.
    ``timeouts``: the provider's idle limit and the answer's deadline; ``on_retry`` hears of
    every retried attempt (for metrics). ``resettable`` false: the client's wire cannot take back
    streamed output, so nothing is retried (nor handed to a fallback) after output started.
    """
    timeouts = timeouts or UpstreamTimeouts()
    deadline = timeouts.deadline()
    policy = policy or RetryPolicy()
    usage = usage or Usage()
    route = _Route(model, lambda same: same, fallbacks or Fallbacks())
    waits = _Waits(timeouts.idle_seconds, deadline, on_retry, resettable)
    reason: FinishReason = "stop"
    messages: tuple[Message, ...] = call.messages
    async with AsyncExitStack() as opened:
        for step in range(1, max(max_steps, 1) + 1):
            step_events: list[ChatEvent] = []
            step_call = call if messages is call.messages else replace(call, messages=messages)
            async for event in route.step(step_call, policy, sleep, waits, step_events, opened):
                yield event
            if route.failed:
                return
            outcome = _outcome(step_events)
            usage = usage.plus(outcome.finish.usage)
            reason = outcome.finish.reason
            if not outcome.tool_calls or tools is None:
                yield StepEnd()
                break
            sink: list[ToolMessage | None] = []
            async for event in tools.run(outcome.tool_calls, sink):
                yield event
            yield StepEnd()
            tool_message = sink[0] if sink else None
            # At max_steps the tools of the last step still run (as in the AI SDK), then the answer ends.
            if tool_message is None or step == max_steps:
                break
            messages = (*messages, outcome.assistant, tool_message)
    yield ChatFinish(reason, usage)


@dataclass(frozen=True, slots=True)
class _Waits:
    """The answer's timeouts and retry hook, the same for every step and fallback."""

    idle: float | None
    deadline: float | None
    on_retry: Callable[[ProviderError], None] | None
    resettable: bool


class _Route:
    """The model answering now, and the fallbacks left after it."""

    def __init__(self, model: ChatModel, adapt: Callable[[ModelCall], ModelCall], fallbacks: Fallbacks) -> None:
        self.model = model
        self.adapt = adapt
        self.description = fallbacks.description
        self.fallback_on: Collection[str] = fallbacks.fallback_on
        self.remaining = list(fallbacks.chain)
        self.failed = False

    async def step(
        self,
        call: ModelCall,
        policy: RetryPolicy,
        sleep: Sleep,
        waits: _Waits,
        step_events: list[ChatEvent],
        opened: AsyncExitStack,
    ) -> AsyncIterator[ChatEvent]:
        """One step's events (``StepStart`` before the first), through retries and fallbacks; on a
        final error, ``ChatError`` and ``failed``. ``step_events`` gets what the successful attempt
        streamed. (An answer that fails before any output has no step, so nothing is kept.)"""
        in_step = False
        while True:
            try:
                async for event in _stream_with_retries(
                    self.model,
                    self.adapt(call),
                    policy,
                    sleep,
                    waits.idle,
                    waits.deadline,
                    waits.on_retry,
                    waits.resettable,
                ):
                    if isinstance(event, StepReset):
                        step_events.clear()
                    else:
                        if not in_step:
                            in_step = True
                            yield StepStart()
                        step_events.append(event)
                    yield event
                if not in_step:
                    yield StepStart()
                return
            except ProviderError as error:
                # A fallback after output needs a wire that can take the output back.
                can_switch = error.category in self.fallback_on and (waits.resettable or not step_events)
                fallback = self.remaining.pop(0) if self.remaining and can_switch else None
                if fallback is None:
                    # Includes a history the provider cannot take (a file type): the stream has
                    # started, so the message travels as an error chunk.
                    logger.warning("provider error: %s", error.public_message)
                    yield ChatError(error.public_message, error.category, error.provider, error.retry_after_seconds)
                    self.failed = True
                    return
                logger.warning(
                    "%s; falling back to preset %s", error.public_message, fallback.description.get("preset")
                )
                if step_events:
                    step_events.clear()
                    yield StepReset(error.category, 1)
                self.model = await opened.enter_async_context(fallback.open_model())
                yield AnswerModelChanged(dict(fallback.description), dict(self.description), error.category)
                self.adapt, self.description, self.fallback_on = (
                    fallback.adapt,
                    fallback.description,
                    fallback.fallback_on,
                )
