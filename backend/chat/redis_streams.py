"""Live streams shared by several workers through Redis (``--redis-url``; docs/scaling.md).

What lives in Redis, per block and per answer (``{p}`` is the key prefix):

* ``{p}active:{owner}:{block}`` — a hash naming the user's block's live answer (stream id, chat id, message id,
  start time). Creating it is the one-answer-per-block lock: a Lua script creates it only if it is
  absent, so a second POST on any worker gets ``StreamBusy`` (409). It expires ``lock_seconds``
  after the generating worker's last heartbeat, so a dead worker frees its blocks.
* ``{p}chunks:{stream}`` — a Redis stream of the answer's encoded chunks, entry ``0-{n}`` holding
  chunk ``n-1``, so "follow from position p" is ``XREAD`` after ``0-{p}``; an ``end`` entry closes
  it. It is written before the lock is released, and kept ``finished_seconds`` after the end, so a
  resume that found the answer live always reads to its end.
* ``{p}stop`` — a pub/sub channel: a stop on any worker publishes the stream id and also marks the
  ``active`` hash, which the owner's heartbeat reads in case the message was missed.

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
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError

from backend.chat.streams import ActiveStream, Generation, StreamBusy, stream_key

logger = logging.getLogger(__name__)

WORKER_GONE = "The server generating this answer stopped before it finished; send the message again."

# KEYS[1] active hash; ARGV: lock ms, then field/value pairs. Returns nil if taken, else the holder's fields.
_ACQUIRE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('HGETALL', KEYS[1]) end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return false
"""
# KEYS[1] active hash, KEYS[2] chunks; ARGV: stream id, lock ms, chunks ms. 0 = lock lost, 1 = held, 2 = stop asked.
_HEARTBEAT = """
if redis.call('HGET', KEYS[1], 'id') ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
if redis.call('HEXISTS', KEYS[1], 'stop') == 1 then return 2 end
return 1
"""
# KEYS[1] active hash, KEYS[2] chunks; ARGV: stream id, end entry id, finished ms. The end and the unlock
# in one step: whoever sees the block unlocked finds the end, and whoever sees the end finds it unlocked.
_FINISH = """
redis.call('XADD', KEYS[2], ARGV[2], 'end', '1')
redis.call('PEXPIRE', KEYS[2], ARGV[3])
if redis.call('HGET', KEYS[1], 'id') == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
"""
# KEYS[1] active hash; ARGV[1] stream id, ARGV[2] the field to set (mark stop) or '' (release).
_IF_HOLDER = """
if redis.call('HGET', KEYS[1], 'id') ~= ARGV[1] then return 0 end
if ARGV[2] == '' then redis.call('DEL', KEYS[1]) else redis.call('HSET', KEYS[1], ARGV[2], '1') end
return 1
"""


@dataclass(eq=False)
class RemoteStream(ActiveStream):
    """A live answer read from Redis (generated on another worker, or on this one)."""

    client: Redis | None = None
    keys: RedisKeys | None = None
    stream_id: str = ""

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
                        # The worker died mid-answer: a clear end instead of keep-alives forever.
                        yield orjson.dumps({"type": "error", "errorText": WORKER_GONE})
                        yield orjson.dumps({"type": "finish", "finishReason": "interrupted"})
                        self.done = True
                        return
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

    async def _owner_gone(self, chunks_key: str, last: str) -> bool:
        """No holder of this answer's lock any more, and no end after ``last``: its worker is gone."""
        assert self.client is not None and self.keys is not None
        holder: Any = await self.client.hget(self.keys.active(self.key), "id")
        if holder is not None and _text(holder) == self.stream_id:
            return False
        after = await self.client.xrange(chunks_key, min=f"({last}", count=1)
        return not after


@dataclass(frozen=True, slots=True)
class RedisKeys:
    prefix: str = "chatwire:"

    def active(self, key: str) -> str:
        """The live answer of a stream key (``streams.stream_key``: owner and block)."""
        return f"{self.prefix}active:{key}"

    def chunks(self, stream_id: str) -> str:
        return f"{self.prefix}chunks:{stream_id}"

    @property
    def stop_channel(self) -> str:
        return f"{self.prefix}stop"


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
        self._keys = keys
        self._local: dict[str, _Local] = {}  # stream key -> the answer this worker generates
        self._acquire = client.register_script(_ACQUIRE)
        self._heartbeat = client.register_script(_HEARTBEAT)
        self._if_holder = client.register_script(_IF_HOLDER)
        self._finish = client.register_script(_FINISH)
        self._listener: asyncio.Task[None] | None = None

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
        streams._listener = asyncio.create_task(streams._listen_for_stops(ready), name="redis-stop-listener")
        await ready  # subscribed: a stop published from now on reaches this worker
        return streams

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            await asyncio.gather(self._listener, return_exceptions=True)
        await self._client.aclose()

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
            keys=[self._keys.active(stream.key)],
            args=[
                self._lock_ms,
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
        marked = await self._if_holder(keys=[self._keys.active(key)], args=[remote.stream_id, "stop"])
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
                    pipeline.pexpire(chunks_key, self._lock_ms + self._finished_ms)
                    await pipeline.execute()
                    published = end
                elif done:
                    break
                else:
                    await stream.changed()
            await self._finish(
                keys=[active_key, chunks_key], args=[local.stream_id, f"0-{published + 1}", self._finished_ms]
            )
            finished = True
        except RedisError:
            logger.exception("publishing the answer of block %s to Redis failed", stream.block_id)
        finally:
            if not finished:  # free the block anyway; followers elsewhere see the owner gone
                with contextlib.suppress(RedisError):
                    await self._if_holder(keys=[active_key], args=[local.stream_id, ""])

    async def _keep_alive(self, local: _Local) -> None:
        """Renew the lock (and the chunks' expiry) while the answer runs; honour a stop marked in Redis."""
        stream = local.stream
        keys = [self._keys.active(stream.key), self._keys.chunks(local.stream_id)]
        while True:
            await asyncio.sleep(self._lock_ms / 3000)
            try:
                state = await self._heartbeat(keys=keys, args=[local.stream_id, self._lock_ms, self._lock_ms * 2])
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
        )


def _text(value: Any) -> str:
    """A Redis reply value as text (replies are bytes: the client does not decode, chunks stay bytes)."""
    return value.decode() if isinstance(value, bytes) else str(value)
