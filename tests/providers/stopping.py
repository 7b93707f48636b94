"""Stop a provider stream early, the two ways a consumer can (for the cancellation tests)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable

import pytest

from backend.events import ProviderEvent, TextDelta


async def stop_early(
    stream: AsyncGenerator[ProviderEvent, None],
    how: str,
    held: Callable[[list[ProviderEvent]], bool] = lambda received: isinstance(received[-1], TextDelta),
) -> list[ProviderEvent]:
    """``aclose``: iterate until ``held`` says the server is holding, then close the generator.
    ``cancel``: consume in a task and cancel it while it waits for the next event.
    Returns the events received before stopping."""
    received: list[ProviderEvent] = []
    if how == "aclose":
        async for event in stream:
            received.append(event)
            if held(received):
                break
        await stream.aclose()
        return received
    holding = asyncio.Event()

    async def consume() -> None:
        async for event in stream:
            received.append(event)
            if held(received):
                holding.set()

    task = asyncio.create_task(consume())
    await holding.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    return received
