"""``RedisStreams`` against a real Redis: two instances in one process stand for two workers.

The HTTP paths are in test_two_workers.py; here are what a process test cannot reach cheaply:
following from a position, and a worker that dies mid-answer (its lock lapses, no end is written).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import orjson
import pytest
from redis.asyncio import Redis

from backend.chat.redis_streams import WORKER_GONE, RedisKeys, RedisStreams
from backend.chat.streams import ActiveStream, StreamBusy


@pytest.fixture
async def pair(redis_url: str) -> AsyncIterator[tuple[RedisStreams, RedisStreams]]:
    a = await RedisStreams.open(redis_url, lock_seconds=1.0, finished_seconds=5.0)
    b = await RedisStreams.open(redis_url, lock_seconds=1.0, finished_seconds=5.0)
    yield a, b
    for streams in (a, b):
        await streams.stop_all()
        await streams.close()


async def collect(stream: ActiveStream, position: int = 0, idle_seconds: float = 0.2) -> list[bytes | None]:
    return [chunk async for chunk in stream.follow(position, idle_seconds)]


async def test_follow_from_a_position_on_another_worker(pair: tuple[RedisStreams, RedisStreams]) -> None:
    a, b = pair
    go_on = asyncio.Event()

    async def generation(stream: ActiveStream) -> None:
        for index in range(3):
            stream.append(b'{"n":%d}' % index)
        await go_on.wait()
        stream.append(b'{"n":3}')

    started = await a.start(ActiveStream("blk", "chat", "msg-1"), generation)
    remote = await b.get("default", "blk")
    assert remote is not None and remote is not started and remote.message_id == "msg-1"
    with pytest.raises(StreamBusy) as busy:
        await b.start(ActiveStream("blk", "chat", "msg-2"), generation)
    assert busy.value.active.message_id == "msg-1"
    reader = asyncio.create_task(collect(remote, position=2))
    go_on.set()
    chunks = [chunk for chunk in await reader if chunk is not None]
    assert chunks == [b'{"n":2}', b'{"n":3}']  # from position 2, then live, then the end
    assert started.task is not None
    await started.task
    assert await b.get("default", "blk") is None  # ended: unlocked
    assert await a.start(ActiveStream("blk", "chat", "msg-3"), generation) is not None
    go_on.set()


async def test_a_dead_workers_stream_ends_clearly_and_its_block_frees(
    pair: tuple[RedisStreams, RedisStreams], redis_url: str
) -> None:
    _, b = pair
    # What a worker killed mid-answer leaves behind: its lock (lapsing without heartbeats) and its
    # chunks so far, without an end.
    keys, client = RedisKeys(), Redis.from_url(redis_url)
    fields = {"id": "s1", "chat": "c", "message": "msg-9", "started": "1"}
    await client.hset(keys.active("default:dead"), mapping=fields)
    await client.pexpire(keys.active("default:dead"), 500)
    await client.xadd(keys.chunks("s1"), {"c": b'{"type":"start"}'}, id="0-1")
    await client.aclose()
    remote = await b.get("default", "dead")
    assert remote is not None
    chunks = [orjson.loads(chunk) for chunk in await collect(remote) if chunk is not None]
    assert chunks == [
        {"type": "start"},
        {"type": "error", "errorText": WORKER_GONE},
        {"type": "finish", "finishReason": "interrupted"},
    ]

    async def generation(stream: ActiveStream) -> None:
        stream.append(b"{}")

    started = await b.start(ActiveStream("dead", "c", "msg-10"), generation)  # the lock lapsed
    assert started.task is not None
    await started.task
