"""What the operations layer adds per token, measured in isolation (``make bench``).

Per streamed event the answer recorder does one dictionary lookup and the idle guard reads the
clock twice and adds one async-generator hop; metrics and log lines are written only at answer
boundaries. This times both against the bare path, on the same events.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

from backend.chat.report import AnswerRecorder
from backend.events import ProviderEvent, TextDelta
from backend.upstream_wait import guarded

EVENTS = 200_000


async def _source(events: int) -> AsyncIterator[ProviderEvent]:
    delta = TextDelta("0", "a ")
    for _ in range(events):
        yield delta


async def _consume(stream: AsyncIterator[ProviderEvent], recorder: AnswerRecorder | None) -> float:
    started = time.process_time()
    async for event in stream:
        if recorder is not None:
            recorder.observe(event)
    return time.process_time() - started


async def main() -> None:
    bare = min([await _consume(_source(EVENTS), None) for _ in range(3)])
    observed = min(
        [
            await _consume(guarded(_source(EVENTS), "bench", 90.0, None), AnswerRecorder("chat", "b", {}))
            for _ in range(3)
        ]
    )
    extra = (observed - bare) / EVENTS * 1e6
    print(
        f"operations layer per token (idle guard + answer recorder): {extra:.2f} µs CPU "
        f"(bare async iteration {bare / EVENTS * 1e6:.2f} µs, with both {observed / EVENTS * 1e6:.2f} µs)"
    )


if __name__ == "__main__":
    asyncio.run(main())
