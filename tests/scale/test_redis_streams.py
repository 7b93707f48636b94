"""``RedisStreams`` against a real Redis: two instances in one process stand for two workers.

The HTTP paths are in test_two_workers.py; here are what a process test cannot reach cheaply:
following from a position, a worker that dies mid-answer (its lock lapses, no end is written), and
the recovery of its answer by exactly one other worker, when touched or by the sweeper.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import orjson
import pytest
from redis.asyncio import Redis

from backend.chat.recovery import OrphanedAnswer
from backend.chat.redis_scripts import RedisKeys
from backend.chat.redis_streams import WORKER_GONE, RedisStreams, closing_chunks
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


async def leave_orphan(redis_url: str, block: str, stream_id: str, chunks: list[bytes]) -> None:
    """What a worker killed mid-answer leaves: its record and deadline, chunks without an end, no lock."""
    keys, client = RedisKeys(), Redis.from_url(redis_url)
    fields = {"id": stream_id, "chat": "c", "message": "msg-7", "started": "1"}
    await client.hset(keys.record(f"default:{block}"), mapping=fields)
    await client.zadd(keys.deadlines, {f"default:{block}": 0})
    for index, chunk in enumerate(chunks):
        await client.xadd(keys.chunks(stream_id), {"c": chunk}, id=f"0-{index + 1}")
    await client.aclose()


async def test_a_dead_workers_answer_is_recovered_once_and_replayed_to_its_end(
    pair: tuple[RedisStreams, RedisStreams], redis_url: str
) -> None:
    a, b = pair
    saved: list[OrphanedAnswer] = []

    async def save(orphan: OrphanedAnswer) -> None:
        saved.append(orphan)

    a.save_orphans_with(save)
    b.save_orphans_with(save)
    streamed = [b'{"type":"start","messageId":"msg-7"}', b'{"type":"text-start","id":"t"}']
    await leave_orphan(redis_url, "orphan", "s7", streamed)
    # Two workers touch the block at once: one claims and saves it, the other finds nothing to do.
    results = await asyncio.gather(a.recover("default", "orphan"), b.recover("default", "orphan"))
    recovered = [result for result in results if result is not None]
    assert len(recovered) == 1 and recovered[0].message_id == "msg-7"
    assert [orphan.chunks for orphan in saved] == [(*streamed, *closing_chunks())]
    # Following it replays what streamed, then the same closing chunks, then ends; the block is free.
    assert [chunk for chunk in await collect(recovered[0]) if chunk is not None] == [*streamed, *closing_chunks()]
    assert await b.get("default", "orphan") is None and await b.recover("default", "orphan") is None


async def test_the_sweeper_recovers_an_answer_nobody_touches(
    pair: tuple[RedisStreams, RedisStreams], redis_url: str
) -> None:
    _, b = pair
    found = asyncio.get_running_loop().create_future()

    async def save(orphan: OrphanedAnswer) -> None:
        found.set_result(orphan)

    b.save_orphans_with(save)
    await leave_orphan(redis_url, "untouched", "s8", [b'{"type":"start"}'])
    orphan = await asyncio.wait_for(found, 10)  # the sweep runs every third of the 1 s lock
    assert orphan.block_id == "untouched" and orphan.chunks[-1] == closing_chunks()[-1]
