"""Active chat streams, decoupled from the HTTP connections that watch them.

A generation runs as its own task and appends SSE lines to an :class:`ActiveStream`. The POST
that started it and any later resume ``GET`` are *followers*: each replays the lines from the
start and then waits for new ones (what ``useChat({resume: true})`` with
``resumeStreamIsReplay`` expects). So a closed tab does not stop the answer (unless the
``cancel_on_disconnect`` setting says so), and a reopened tab sees it continue. One active
stream per block: a second POST gets 409 naming the active one.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any


@dataclass(eq=False)
class ActiveStream:
    block_id: str
    chat_id: str
    message_id: str
    started_at: float = field(default_factory=time.time)
    lines: list[bytes] = field(default_factory=list)
    done: bool = False
    stop_requested: bool = False
    task: asyncio.Task[None] | None = None
    followers: int = 0
    _changed: asyncio.Future[None] | None = None

    def _signal(self) -> None:
        if self._changed is not None and not self._changed.done():
            self._changed.set_result(None)
        self._changed = None

    def append(self, line: bytes) -> None:
        self.lines.append(line)
        self._signal()

    def close(self) -> None:
        self.done = True
        self._signal()

    def _wait_future(self) -> asyncio.Future[None]:
        if self._changed is None:
            self._changed = asyncio.get_running_loop().create_future()
        return self._changed

    async def follow(self, keepalive_seconds: float) -> AsyncGenerator[bytes, None]:
        """Every line from the start, then live ones; ``b": keep-alive\\n\\n"`` while idle."""
        position = 0
        self.followers += 1
        try:
            while True:
                while position < len(self.lines):
                    yield self.lines[position]
                    position += 1
                if self.done:
                    return
                waiter = self._wait_future()
                try:
                    await asyncio.wait_for(asyncio.shield(waiter), timeout=keepalive_seconds)
                except TimeoutError:
                    yield b": keep-alive\n\n"
        finally:
            self.followers -= 1

    def describe(self) -> dict[str, Any]:
        return {
            "blockId": self.block_id,
            "chatId": self.chat_id,
            "messageId": self.message_id,
            "startedAt": self.started_at,
        }


class StreamBusy(Exception):
    def __init__(self, active: ActiveStream) -> None:
        super().__init__(f"block {active.block_id} is already streaming")
        self.active = active


class StreamRegistry:
    """The active streams of this process, one per block."""

    def __init__(self) -> None:
        self._streams: dict[str, ActiveStream] = {}

    def get(self, block_id: str) -> ActiveStream | None:
        return self._streams.get(block_id)

    def start(self, stream: ActiveStream, run: Callable[[ActiveStream], Coroutine[Any, Any, None]]) -> ActiveStream:
        active = self._streams.get(stream.block_id)
        if active is not None and not active.done:
            raise StreamBusy(active)
        self._streams[stream.block_id] = stream

        async def runner() -> None:
            try:
                await run(stream)
            finally:
                stream.close()
                if self._streams.get(stream.block_id) is stream:
                    del self._streams[stream.block_id]

        stream.task = asyncio.create_task(runner(), name=f"chat:{stream.block_id}")
        return stream

    async def stop(self, block_id: str) -> ActiveStream | None:
        """Cancel the block's generation and wait until its partial answer is saved."""
        stream = self._streams.get(block_id)
        if stream is None or stream.task is None:
            return None
        stream.stop_requested = True
        stream.task.cancel()
        await asyncio.gather(stream.task, return_exceptions=True)
        return stream

    async def stop_all(self) -> None:
        for block_id in list(self._streams):
            await self.stop(block_id)
