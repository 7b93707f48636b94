"""Waiting on a provider, with limits: the idle timeout and the answer's deadline.

A hung upstream (headers sent, then nothing) would otherwise hold the block until the SDK's
read timeout. ``guarded`` wraps one model call's events: when the provider has been awaited for
``idle_seconds`` without an event, or the answer's deadline passes while awaiting it, the wait
is cancelled and a ``ProviderError`` (category ``timeout``) takes its place, so the loop retries
it like a 5xx (idle, before any output) or ends the answer with a clear error.

Only the time spent awaiting the provider counts: a slow consumer is never mistaken for a silent
provider. Per event this costs one clock read; a timer fires at most once per idle period.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass

from backend.errors import ProviderError
from backend.events import ProviderEvent


@dataclass(frozen=True, slots=True)
class UpstreamTimeouts:
    """``idle_seconds``: the longest silence from the provider within a call; ``total_seconds``:
    the whole answer (every step and retry). ``None`` turns either off."""

    idle_seconds: float | None = None
    total_seconds: float | None = None

    def deadline(self) -> float | None:
        """The answer's deadline on the event loop's clock, from now."""
        if self.total_seconds is None:
            return None
        return asyncio.get_running_loop().time() + self.total_seconds


class _Watch:
    """Cancels the task awaiting the provider once it has waited too long."""

    def __init__(self, idle: float | None, deadline: float | None) -> None:
        self._loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        self._task = task
        self._idle = idle
        self._deadline = deadline
        self._since: float | None = None
        self._handle: asyncio.TimerHandle | None = None
        self.expired: str | None = None  # "idle" or "deadline" once it fired

    def _due(self, since: float) -> float:
        due = since + self._idle if self._idle is not None else float("inf")
        return min(due, self._deadline) if self._deadline is not None else due

    def waiting(self) -> None:
        self._since = self._loop.time()
        if self._handle is None:
            self._handle = self._loop.call_at(self._due(self._since), self._check)

    def received(self) -> None:
        self._since = None

    def _check(self) -> None:
        self._handle = None
        if self._since is None:
            return  # not waiting now; the next wait arms the timer again
        now, due = self._loop.time(), self._due(self._since)
        if now < due:
            self._handle = self._loop.call_at(due, self._check)
            return
        self.expired = "deadline" if self._deadline is not None and now >= self._deadline else "idle"
        self._task.cancel()

    def fired(self) -> bool:
        """True when this watch cancelled the wait and nobody else (a stop, a shutdown) asked
        for a cancel meanwhile; consumes the watch's own cancel request."""
        return self.expired is not None and self._task.uncancel() == 0

    def close(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None


async def guarded(
    events: AsyncIterator[ProviderEvent], provider: str, idle: float | None, deadline: float | None
) -> AsyncGenerator[ProviderEvent, None]:
    """``events`` of one model call, or ``ProviderError`` (``timeout``) when the provider is silent
    for ``idle`` seconds or ``deadline`` (loop clock) passes while waiting for it."""
    if idle is None and deadline is None:
        async for event in events:
            yield event
        return
    watch = _Watch(idle, deadline)
    try:
        while True:
            watch.waiting()
            try:
                event = await anext(events)
            except StopAsyncIteration:
                return
            except asyncio.CancelledError:
                # Ours only if nobody else (a stop, a shutdown) asked for a cancel meanwhile.
                if watch.fired():
                    raise _timeout_error(provider, watch.expired == "idle", idle) from None
                raise
            watch.received()
            yield event
    finally:
        watch.close()
        closer = getattr(events, "aclose", None)
        if closer is not None:
            await closer()


def _timeout_error(provider: str, idle_expired: bool, idle: float | None) -> ProviderError:
    if idle_expired:
        return ProviderError(
            provider=provider, category="timeout", detail=f"no data from the provider for {idle:g} s (idle timeout)"
        )
    return ProviderError(
        provider=provider, category="timeout", detail="the answer reached its total time limit", retryable=False
    )
