"""Live answers, decoupled from the connections that watch them.

A generation runs as its own task and appends *encoded chunks* (the JSON bytes of each UI
message chunk, nothing wire-specific) to an :class:`ActiveStream`. Whoever started it and any
later resume are *followers*: each reads from a position (0 replays everything, as
``useChat({resume: true})`` expects) and then waits for new chunks. So a closed tab does not
stop the answer, a reopened tab sees it continue, and any front door can frame the chunks its
own way (SSE ``data:`` lines, WebSocket frames). One active stream per block of a user: streams
are found by their owner and block id together (:func:`stream_key`), so one user can neither
see, resume nor stop another's (issue 19).

:class:`LiveStreams` is the interface the core uses (start, get, follow from a position, stop);
:class:`InMemoryStreams` is the embedded implementation, ``redis_streams.RedisStreams`` the
shared one for several workers (docs/scaling.md). ``get`` and ``start`` are coroutines because a
shared implementation asks its engine; a stream found on another worker is an ``ActiveStream``
whose ``follow`` reads the engine, so the core handles both alike.

Delivery to a connection (:meth:`ActiveStream.deliver`) goes through a :class:`ChunkSink` the
front door provides. A follower that has caught up does not wait for each chunk: the chunks
appended in one turn of the event loop are offered together, straight to its sink (one write
that cannot wait), so a paced answer costs one task wake-up per token (the generation's) instead
of two, and a burst of chunks one write instead of one each. A sink that would have to wait (its
transport's buffer is full, a write is in flight) refuses; the follower then wakes and writes
from its position with the awaited, back-pressured path (batches too) until it has caught up.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Coroutine
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any, Protocol

from backend.chat.recovery import OrphanedAnswer
from backend.users import IMPLICIT_USER_NAME


def stream_key(owner: str, block_id: str) -> str:
    """Where a block's live stream is found. User names never hold ':' (``backend/users.py``)."""
    return f"{owner}:{block_id}"


# The most chunks a follower writes at once when catching up (bounds the bytes joined per write).
WRITE_BATCH = 64


class ChunkSink(Protocol):
    """Where one follower's chunks go: a front door's connection, framed its own way."""

    def offer(self, position: int, chunks: list[bytes]) -> int:
        """Write ``chunks`` (the first is chunk ``position``) now, as far as the connection takes
        them without waiting; how many it wrote (0: none). The follower catches up on the rest
        with ``write``."""
        ...

    async def write(self, position: int, chunks: list[bytes]) -> None:
        """Write ``chunks`` (the first is chunk ``position``), waiting for the connection
        (back-pressure); raises ``ConnectionResetError`` when the client has gone."""
        ...

    async def keep_alive(self) -> None:
        """Nothing new for the idle interval: send the wire's keep-alive, if it has one."""
        ...


@dataclass(eq=False)
class _Caught:
    """A follower that has caught up: the stream hands it chunks until ``woken`` is resolved
    (True: the end, or it fell behind; False: an idle tick)."""

    sink: ChunkSink
    position: int
    woken: asyncio.Future[bool]

    def wake(self, news: bool) -> None:
        if not self.woken.done():
            self.woken.set_result(news)


@dataclass(eq=False)
class ActiveStream:
    block_id: str
    chat_id: str
    message_id: str
    owner: str = IMPLICIT_USER_NAME
    started_at: float = field(default_factory=time.time)
    chunks: list[bytes] = field(default_factory=list)
    done: bool = False
    stop_requested: bool = False
    task: asyncio.Task[None] | None = None
    followers: int = 0
    _changed: asyncio.Future[None] | None = None
    # Each waiting follower's own future: True for news (a chunk, the end), False for an idle tick.
    # One timer per stream sends the idle ticks, so a follower's wait costs no timer per chunk.
    _waiters: list[asyncio.Future[bool]] = field(default_factory=list)
    _caught: list[_Caught] = field(default_factory=list)
    _handing: asyncio.Handle | None = None  # the scheduled hand-over of new chunks to ``_caught``
    _idle_seconds: float = 15.0
    _last_news: float = field(default_factory=time.monotonic)
    _ticker: asyncio.TimerHandle | None = None

    @property
    def key(self) -> str:
        return stream_key(self.owner, self.block_id)

    def _signal(self) -> None:
        if self._changed is not None and not self._changed.done():
            self._changed.set_result(None)
        self._changed = None
        self._last_news = time.monotonic()
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(True)

    def _wait(self, idle_seconds: float) -> asyncio.Future[bool]:
        loop = asyncio.get_running_loop()
        waiter = loop.create_future()
        self._waiters.append(waiter)
        self._arm_ticker(idle_seconds)
        return waiter

    def _arm_ticker(self, idle_seconds: float) -> None:
        self._idle_seconds = idle_seconds
        if self._ticker is None:
            self._ticker = asyncio.get_running_loop().call_later(idle_seconds, self._tick)

    def _tick(self) -> None:
        self._ticker = None
        if self.done or not (self._waiters or self._caught):
            return  # the next wait arms it again
        now = time.monotonic()
        due = self._last_news + self._idle_seconds
        if now >= due:
            self._last_news = now  # the keep-alive counts as news for the next tick
            waiters, self._waiters = self._waiters, []
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(False)
            caught, self._caught = self._caught, []
            for follower in caught:
                follower.wake(False)
            due = now + self._idle_seconds
        self._ticker = asyncio.get_running_loop().call_later(due - now, self._tick)

    def append(self, chunk: bytes) -> None:
        self.chunks.append(chunk)
        if self._caught and self._handing is None:
            # Once the generation yields: every chunk of this turn of the loop in one write.
            self._handing = asyncio.get_running_loop().call_soon(self._hand_over)
        self._signal()

    def flush(self) -> None:
        """Hand the chunks appended so far to the caught-up followers now rather than when the
        generation yields. For the first token: when the upstream's events arrive together, the
        generation would otherwise translate all of them before the first one is written."""
        if self._handing is not None:
            self._handing.cancel()
            self._hand_over()

    def _hand_over(self) -> None:
        """Offer the new chunks to every caught-up follower's sink; one that does not take them
        all (or fails) is woken to catch up on its own task, from its position."""
        self._handing = None
        end = len(self.chunks)
        behind: list[_Caught] = []
        for follower in self._caught:
            if follower.position >= end:
                continue
            # A sink must never break the generation: one that fails is behind, its follower sees the error.
            with contextlib.suppress(Exception):
                follower.position += follower.sink.offer(follower.position, self.chunks[follower.position : end])
            if follower.position < end:
                behind.append(follower)
        for follower in behind:
            self._caught.remove(follower)
            follower.wake(True)

    def close(self) -> None:
        self.done = True
        self.flush()  # the last chunks go the direct way too
        self._signal()
        caught, self._caught = self._caught, []
        for follower in caught:
            follower.wake(True)
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None

    def _wait_future(self) -> asyncio.Future[None]:
        if self._changed is None:
            self._changed = asyncio.get_running_loop().create_future()
        return self._changed

    async def changed(self) -> None:
        """Return after the next ``append`` or ``close`` (for a publisher, which is not a follower)."""
        await asyncio.shield(self._wait_future())

    async def follow(self, position: int = 0, idle_seconds: float = 15.0) -> AsyncGenerator[bytes | None, None]:
        """Every chunk from ``position``, then live ones until the stream ends; ``None`` after
        each ``idle_seconds`` without one (a front door sends its keep-alive then)."""
        self.followers += 1
        try:
            while True:
                while position < len(self.chunks):
                    yield self.chunks[position]
                    position += 1
                if self.done:
                    return
                if not await self._wait(idle_seconds):
                    yield None
        finally:
            self.followers -= 1

    async def deliver(self, sink: ChunkSink, position: int = 0, idle_seconds: float = 15.0) -> None:
        """Every chunk from ``position`` to the end into ``sink``: the backlog with awaited writes,
        then, once caught up, straight from the generation (this task sleeps until the end, an idle
        interval, or the sink refused a chunk). Raises what the sink raises (a disconnect)."""
        self.followers += 1
        caught: _Caught | None = None
        try:
            while True:
                while position < len(self.chunks):
                    batch = self.chunks[position : position + WRITE_BATCH]
                    await sink.write(position, batch)
                    position += len(batch)
                if self.done:
                    return
                caught = _Caught(sink, position, asyncio.get_running_loop().create_future())
                self._caught.append(caught)
                self._arm_ticker(idle_seconds)
                news = await caught.woken
                if caught in self._caught:
                    self._caught.remove(caught)
                position, caught = caught.position, None
                if not news:
                    await sink.keep_alive()
        finally:
            if caught is not None and caught in self._caught:
                self._caught.remove(caught)
            self.followers -= 1

    def describe(self) -> dict[str, Any]:
        return {
            "blockId": self.block_id,
            "chatId": self.chat_id,
            "messageId": self.message_id,
            "startedAt": self.started_at,
        }


async def deliver_by_reading(stream: ActiveStream, sink: ChunkSink, position: int, idle_seconds: float) -> None:
    """``deliver`` for a stream whose ``follow`` reads an engine (nothing to hand over directly)."""
    async with aclosing(stream.follow(position, idle_seconds)) as chunks:
        async for chunk in chunks:
            if chunk is None:
                await sink.keep_alive()
            else:
                await sink.write(position, [chunk])
                position += 1


class StreamBusy(Exception):
    def __init__(self, active: ActiveStream) -> None:
        super().__init__(f"block {active.block_id} is already streaming")
        self.active = active


Generation = Callable[[ActiveStream], Coroutine[Any, Any, None]]
SaveOrphan = Callable[[OrphanedAnswer], Awaitable[object]]


class LiveStreams(Protocol):
    """The active streams the core starts, follows and stops (one per block)."""

    async def get(self, owner: str, block_id: str) -> ActiveStream | None:
        """The owner's block's live stream, on this worker or (shared implementations) on another."""
        ...

    def active(self) -> list[ActiveStream]:
        """The streams generating in this process."""
        ...

    async def start(self, stream: ActiveStream, run: Generation) -> ActiveStream:
        """Register ``stream`` and run ``run(stream)`` as its generation; ``StreamBusy`` if the
        block already has a live one."""
        ...

    async def stop(self, owner: str, block_id: str) -> ActiveStream | None:
        """Cancel the owner's block's generation and wait until it has ended (its partial answer saved)."""
        ...

    async def stop_all(self) -> None:
        """Stop this worker's generations (shutdown); each saves its partial answer."""
        ...

    async def recover(self, owner: str, block_id: str) -> ActiveStream | None:
        """If the block's answer was left by a dead worker: close it (``error``, ``finish:
        interrupted``), save it with the function given to ``save_orphans_with``, and return it
        ended (following it replays it to that end). ``None`` when there is nothing to recover."""
        ...

    def save_orphans_with(self, save: SaveOrphan) -> None:
        """How a recovered answer is saved (the core's save rule, bound to its store)."""
        ...

    async def close(self) -> None:
        """Release the engine (after ``stop_all``)."""
        ...


class InMemoryStreams:
    """The active streams of this process."""

    def __init__(self) -> None:
        self._streams: dict[str, ActiveStream] = {}

    async def get(self, owner: str, block_id: str) -> ActiveStream | None:
        return self._streams.get(stream_key(owner, block_id))

    def active(self) -> list[ActiveStream]:
        return [stream for stream in self._streams.values() if not stream.done]

    async def start(self, stream: ActiveStream, run: Generation) -> ActiveStream:
        active = self._streams.get(stream.key)
        if active is not None and not active.done:
            raise StreamBusy(active)
        self._streams[stream.key] = stream

        async def runner() -> None:
            try:
                await run(stream)
            finally:
                stream.close()
                if self._streams.get(stream.key) is stream:
                    del self._streams[stream.key]

        stream.task = asyncio.create_task(runner(), name=f"chat:{stream.block_id}")
        return stream

    async def stop(self, owner: str, block_id: str) -> ActiveStream | None:
        return await self._stop_stream(self._streams.get(stream_key(owner, block_id)))

    async def _stop_stream(self, stream: ActiveStream | None) -> ActiveStream | None:
        if stream is None or stream.task is None:
            return None
        stream.stop_requested = True
        stream.task.cancel()
        await asyncio.gather(stream.task, return_exceptions=True)
        return stream

    async def stop_all(self) -> None:
        for stream in list(self._streams.values()):
            await self._stop_stream(stream)

    async def recover(self, owner: str, block_id: str) -> ActiveStream | None:
        return None  # an answer in memory dies with its process: nothing is left to recover

    def save_orphans_with(self, save: SaveOrphan) -> None:
        return None

    async def close(self) -> None:
        return None
