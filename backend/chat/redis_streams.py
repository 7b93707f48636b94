"""Live streams shared by several workers through Redis (``--redis-url``; docs/scaling.md).

What lives in Redis, per block and per answer (``{p}`` is the key prefix):

* ``{p}active:{block}`` — a hash naming the block's live answer (stream id, chat id, message id,
  start time). Creating it is the one-answer-per-block lock: a Lua script creates it only if it is
  absent, so a second POST on any worker gets ``StreamBusy`` (409). It expires ``lock_seconds``
  after the generating worker's last heartbeat, so a dead worker frees its blocks.
* ``{p}chunks:{stream}`` — a Redis stream of the answer's encoded chunks, entry ``0-{n}`` holding
  chunk ``n-1``, so "follow from position p" is ``XREAD`` after ``0-{p}``; an ``end`` entry closes
  it. It is written before the lock is released, and kept ``finished_seconds`` after the end, so a
  resume that found the answer live always reads to its end.
* ``{p}stop`` — a pub/sub channel: a stop on any worker publishes the stream id and also marks the
  ``active`` hash, which the owner's heartbeat reads in case the message was missed.
* ``{p}answer:{block}`` — the answer's record (the lock's fields), kept until the answer ends, and
  ``{p}deadlines``, the blocks with a live answer scored by their lock's deadline. A record that
  outlives its lock is a dead worker's answer: the next worker that touches the block (a start, a
  resume, a stop, a follower that finds the owner gone) or any worker's sweeper claims it, closes
  it with ``error`` + ``finish: interrupted`` and saves it (``recovery.py``).

The scripts are in ``redis_scripts.py``.

The generating worker keeps its chunks in memory too (an :class:`ActiveStream`); its own followers
read them there and a publisher task copies them to Redis in batches, never per token on the
generation's path. Followers on other workers read Redis (:class:`RemoteStream`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError

from backend.chat import redis_scripts
from backend.chat.recovery import OrphanedAnswer
from backend.chat.redis_scripts import RedisKeys
from backend.chat.streams import (
    ActiveStream,
    ChunkSink,
    Generation,
    SaveOrphan,
    StreamBusy,
    deliver_by_reading,
    stream_key,
)

logger = logging.getLogger(__name__)

WORKER_GONE = "The server generating this answer stopped before it finished; send the message again."
# How many lapsed answers one sweep claims (the rest wait for the next sweep).
SWEEP_BATCH = 100


def closing_chunks() -> list[bytes]:
    """How an answer whose worker died ends, for every follower: an error, then ``interrupted``."""
    return [
        orjson.dumps({"type": "error", "errorText": WORKER_GONE}),
        orjson.dumps({"type": "finish", "finishReason": "interrupted"}),
    ]


@dataclass(eq=False)
class RemoteStream(ActiveStream):
    """A live answer read from Redis (generated on another worker, or on this one)."""

    client: Redis | None = None
    keys: RedisKeys | None = None
    stream_id: str = ""
    # Claims and closes the block's answer if its worker died (RedisStreams.recover).
    recover: Callable[[str, str], Awaitable[ActiveStream | None]] | None = None

    async def follow(self, position: int = 0, idle_seconds: float = 15.0) -> AsyncGenerator[bytes | None, None]:
        assert self.client is not None and self.keys is not None
        chunks_key, last = self.keys.chunks(self.stream_id), f"0-{position}"
        self.followers += 1
        try:
            while True:
                # redis-py types replies loosely: [[key, [(entry id, {field: value}), ...]]] with bytes.
                replies: Any = await self.client.xread(
                    {chunks_key: last}, count=512, block=max(1, int(idle_seconds * 1000))
                )
                if not replies:
                    if await self._owner_gone(chunks_key, last):
                        # The worker died mid-answer: recover it here (its end lands in the stream,
                        # read next), or, with its record gone too, end it clearly for this follower.
                        if self.recover is not None and await self.recover(self.owner, self.block_id) is not None:
                            continue
                        if await self._owner_gone(chunks_key, last):
                            for closing in closing_chunks():
                                yield closing
                            self.done = True
                            return
                        continue
                    yield None
                    continue
                for entry_id, fields in replies[0][1]:
                    last = _text(entry_id)
                    if b"end" in fields:
                        self.done = True
                        return
                    chunk: bytes = fields[b"c"]
                    yield chunk
        finally:
            self.followers -= 1

    async def deliver(self, sink: ChunkSink, position: int = 0, idle_seconds: float = 15.0) -> None:
        await deliver_by_reading(self, sink, position, idle_seconds)

    async def _owner_gone(self, chunks_key: str, last: str) -> bool:
        """No holder of this answer's lock any more, and no end after ``last``: its worker is gone."""
        assert self.client is not None and self.keys is not None
        holder: Any = await self.client.hget(self.keys.active(self.key), "id")
        if holder is not None and _text(holder) == self.stream_id:
            return False
        after = await self.client.xrange(chunks_key, min=f"({last}", count=1)
        return not after


@dataclass(eq=False)
class _Local:
    """This worker's side of an answer it generates."""

    stream: ActiveStream
    stream_id: str
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)

    def cancel(self) -> None:
        """Stop the generation once: a second cancel (a heartbeat, the stop channel) is not sent."""
        if not self.stream.stop_requested and self.stream.task is not None:
            self.stream.stop_requested = True
            self.stream.task.cancel()


class RedisStreams:
    """``LiveStreams`` over Redis. Open with ``await RedisStreams.open(url, ...)``; ``close()`` after ``stop_all()``."""

    def __init__(self, client: Redis, lock_seconds: float, finished_seconds: float, keys: RedisKeys) -> None:
        self._client = client
        self._lock_ms = max(1000, int(lock_seconds * 1000))
        self._finished_ms = max(1000, int(finished_seconds * 1000))
        self._local: dict[str, _Local] = {}  # block id -> the answer this worker generates
        self._retain_ms = self._lock_ms + self._finished_ms  # an unfinished answer's chunks and record
        self._keys = keys
        self._acquire = client.register_script(redis_scripts.ACQUIRE)
        self._heartbeat = client.register_script(redis_scripts.HEARTBEAT)
        self._if_holder = client.register_script(redis_scripts.IF_HOLDER)
        self._finish = client.register_script(redis_scripts.FINISH)
        self._claim = client.register_script(redis_scripts.CLAIM)
        self._lapsed = client.register_script(redis_scripts.LAPSED)
        self._save_orphan: SaveOrphan | None = None
        self._tasks: list[asyncio.Task[None]] = []  # the stop listener and the sweeper

    @classmethod
    async def open(
        cls, url: str, *, lock_seconds: float = 20.0, finished_seconds: float = 300.0, prefix: str = "chatwire:"
    ) -> RedisStreams:
        client = Redis.from_url(url)
        try:
            await client.ping()
        except BaseException:
            await client.aclose()
            raise
        streams = cls(client, lock_seconds, finished_seconds, RedisKeys(prefix))
        ready = asyncio.get_running_loop().create_future()
        streams._tasks.append(asyncio.create_task(streams._listen_for_stops(ready), name="redis-stop-listener"))
        await ready  # subscribed: a stop published from now on reaches this worker
        streams._tasks.append(asyncio.create_task(streams._sweep(), name="redis-orphan-sweeper"))
        return streams

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._client.aclose()

    def save_orphans_with(self, save: SaveOrphan) -> None:
        self._save_orphan = save

    # ---- LiveStreams ---------------------------------------------------------------------

    async def get(self, owner: str, block_id: str) -> ActiveStream | None:
        key = stream_key(owner, block_id)
        fields: Any = await self._client.hgetall(self._keys.active(key))
        if not fields:
            return None
        local = self._local.get(key)
        if local is not None and local.stream_id == _text(fields[b"id"]):
            return local.stream  # generated here: follow it in memory
        return self._remote(owner, block_id, fields)

    def active(self) -> list[ActiveStream]:
        """The answers this worker generates (the stream limit and metrics are per process)."""
        return [local.stream for local in self._local.values() if not local.stream.done]

    async def start(self, stream: ActiveStream, run: Generation) -> ActiveStream:
        stream_id = f"{stream.message_id}.{secrets.token_urlsafe(6)}"
        holder = await self._acquire(
            keys=[self._keys.active(stream.key), self._keys.record(stream.key), self._keys.deadlines],
            args=[
                self._lock_ms,
                self._retain_ms,
                stream.key,  # the deadlines set's member: owner and block
                *("id", stream_id, "chat", stream.chat_id, "message", stream.message_id),
                *("started", repr(stream.started_at)),
            ],
        )
        if holder:
            fields = dict(zip(holder[::2], holder[1::2], strict=True))
            raise StreamBusy(self._remote(stream.owner, stream.block_id, fields))
        local = _Local(stream, stream_id)
        self._local[stream.key] = local
        stream.task = asyncio.create_task(self._run(local, run), name=f"chat:{stream.block_id}")
        local.tasks.append(asyncio.create_task(self._keep_alive(local), name=f"chat-heartbeat:{stream.block_id}"))
        return stream

    async def stop(self, owner: str, block_id: str) -> ActiveStream | None:
        key = stream_key(owner, block_id)
        local = self._local.get(key)
        if local is not None and local.stream.task is not None:
            return await self._stop_local(local)
        fields = await self._client.hgetall(self._keys.active(key))
        if not fields:
            return None
        remote = self._remote(owner, block_id, fields)
        marked = await self._if_holder(
            keys=[self._keys.active(key), self._keys.record(key)], args=[remote.stream_id, "stop"]
        )
        if not marked:
            return None  # it ended meanwhile
        await self._client.publish(self._keys.stop_channel, remote.stream_id)
        # Return once the owner has saved and ended it (or is found dead): read to the end.
        async for _ in remote.follow(0, self._lock_ms / 1000):
            pass
        return remote

    async def stop_all(self) -> None:
        for local in list(self._local.values()):
            await self._stop_local(local)

    # ---- this worker's generations -------------------------------------------------------

    async def _stop_local(self, local: _Local) -> ActiveStream:
        stream = local.stream
        local.cancel()
        if stream.task is not None:
            await asyncio.gather(stream.task, return_exceptions=True)
        return stream

    async def _run(self, local: _Local, run: Generation) -> None:
        stream = local.stream
        publisher = asyncio.create_task(self._publish(local), name=f"chat-publish:{stream.block_id}")
        try:
            await run(stream)
        finally:
            stream.close()
            try:
                # The end reaches Redis even if this task is cancelled again (shutdown): a resume elsewhere sees it.
                await asyncio.gather(asyncio.shield(publisher), return_exceptions=True)
            finally:
                for task in local.tasks:
                    task.cancel()
                if self._local.get(stream.key) is local:
                    del self._local[stream.key]

    async def _publish(self, local: _Local) -> None:
        """Copy the stream's chunks to Redis as they come (one pipeline per batch), then its end, then unlock."""
        stream, chunks_key = local.stream, self._keys.chunks(local.stream_id)
        active_key = self._keys.active(stream.key)
        published, finished = 0, False
        try:
            while True:
                end, done = len(stream.chunks), stream.done
                if published < end:
                    pipeline = self._client.pipeline(transaction=False)
                    for index in range(published, end):
                        pipeline.xadd(chunks_key, {"c": stream.chunks[index]}, id=f"0-{index + 1}")
                    pipeline.pexpire(chunks_key, self._retain_ms)
                    await pipeline.execute()
                    published = end
                elif done:
                    break
                else:
                    await stream.changed()
            await self._finish(
                keys=[active_key, chunks_key, self._keys.record(stream.key), self._keys.deadlines],
                args=[local.stream_id, published + 1, self._finished_ms, stream.key],
            )
            finished = True
        except RedisError:
            logger.exception("publishing the answer of block %s to Redis failed", stream.block_id)
        finally:
            if not finished:  # free the block anyway; followers elsewhere see the owner gone
                with contextlib.suppress(RedisError):
                    await self._if_holder(keys=[active_key, self._keys.record(stream.key)], args=[local.stream_id, ""])

    async def _keep_alive(self, local: _Local) -> None:
        """Renew the lock (and the chunks' expiry) while the answer runs; honour a stop marked in Redis."""
        stream = local.stream
        key = stream.key
        keys = [
            *(self._keys.active(key), self._keys.chunks(local.stream_id)),
            *(self._keys.record(key), self._keys.deadlines),
        ]
        while True:
            await asyncio.sleep(self._lock_ms / 3000)
            try:
                state = await self._heartbeat(keys=keys, args=[local.stream_id, self._lock_ms, self._retain_ms, key])
            except RedisError:
                logger.warning("heartbeat for block %s failed; retrying", stream.block_id)
                continue
            if state in (0, 2) and not stream.done:
                if state == 0:
                    logger.warning(
                        "block %s lost its stream lock (Redis unreachable too long?); stopping", stream.block_id
                    )
                local.cancel()

    async def _listen_for_stops(self, ready: asyncio.Future[None]) -> None:
        """Cancel this worker's generation when any worker publishes a stop for it."""
        while True:
            pubsub = self._client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self._keys.stop_channel)
                if not ready.done():
                    ready.set_result(None)
                async for message in pubsub.listen():
                    stream_id = _text(message["data"])
                    for local in list(self._local.values()):
                        if local.stream_id == stream_id:
                            local.cancel()
            except RedisError as error:
                if not ready.done():
                    ready.set_exception(error)
                    return
                logger.warning("the Redis stop channel dropped; resubscribing (heartbeats still carry stops)")
                await asyncio.sleep(1)
            finally:
                await pubsub.aclose()  # type: ignore[no-untyped-call]

    def _remote(self, owner: str, block_id: str, fields: dict[Any, Any]) -> RemoteStream:
        def text(name: bytes) -> str:
            return _text(fields.get(name, b""))

        return RemoteStream(
            block_id=block_id,
            owner=owner,
            chat_id=text(b"chat"),
            message_id=text(b"message"),
            started_at=float(text(b"started") or time.time()),
            client=self._client,
            keys=self._keys,
            stream_id=text(b"id"),
            recover=self.recover,
        )

    # ---- dead workers' answers -----------------------------------------------------------

    async def recover(self, owner: str, block_id: str) -> ActiveStream | None:
        key = stream_key(owner, block_id)
        claimed: Any = await self._claim(
            keys=[self._keys.active(key), self._keys.record(key), self._keys.deadlines],
            args=[self._lock_ms, key],
        )
        if not claimed:
            return None  # live, or nothing left: the common case costs this one round trip
        fields = dict(zip(claimed[::2], claimed[1::2], strict=True))
        remote = self._remote(owner, block_id, fields)
        chunks_key = self._keys.chunks(remote.stream_id)
        entries: Any = await self._client.xrange(chunks_key)
        streamed = [entry_fields[b"c"] for _, entry_fields in entries if b"c" in entry_fields]
        next_entry = int(_text(entries[-1][0]).split("-")[1]) + 1 if entries else 1
        closing = closing_chunks()
        logger.warning("block %s: its answer's worker stopped mid-answer; recovering it", block_id)
        if self._save_orphan is not None:
            try:
                # Saved before the end is written: a client that sees the end and reloads finds it.
                await self._save_orphan(OrphanedAnswer(block_id, remote.message_id, (*streamed, *closing), owner))
            except Exception:
                logger.exception("saving the recovered answer of block %s failed", block_id)
        await self._finish(
            keys=[self._keys.active(key), chunks_key, self._keys.record(key), self._keys.deadlines],
            args=[remote.stream_id, next_entry, self._finished_ms, key, *closing],
        )
        return remote

    async def _sweep(self) -> None:
        """Recover answers nobody touches: every third of the lock time, the blocks whose lock lapsed."""
        while True:
            await asyncio.sleep(self._lock_ms / 3000)
            if self._save_orphan is None:
                continue
            try:
                lapsed: Any = await self._lapsed(keys=[self._keys.deadlines], args=[SWEEP_BATCH])
                for lapsed_key in lapsed:
                    # The deadlines set holds stream keys: owner and block (user names hold no ':').
                    owner, _, block_id = _text(lapsed_key).partition(":")
                    await self.recover(owner, block_id)
            except RedisError:
                logger.warning("sweeping for stopped workers' answers failed; retrying")
            except Exception:
                logger.exception("sweeping for stopped workers' answers failed")


def _text(value: Any) -> str:
    """A Redis reply value as text (replies are bytes: the client does not decode, chunks stay bytes)."""
    return value.decode() if isinstance(value, bytes) else str(value)
