"""Starting two workers on one PostgreSQL and one Redis, and driving chats through them."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from redis.asyncio import Redis

from tests.conftest import TEST_KEY, write_fixture_presets
from tests.engines import PostgresServer, RedisServer
from tests.server_process import ServerProcess
from tests.upstream import FakeUpstream, Reply
from tests.web.test_chat_endpoint import user_message


@dataclass
class Workers:
    a: ServerProcess
    b: ServerProcess
    http: aiohttp.ClientSession


@contextlib.asynccontextmanager
async def running_workers(
    directory: Path, upstream: FakeUpstream, postgres: PostgresServer, redis: RedisServer
) -> AsyncIterator[Workers]:
    """Workers A and B on a fresh database and an emptied Redis, with presets pointing at ``upstream``."""
    presets = directory / "presets"
    write_fixture_presets(presets, upstream.url)
    database_url = await postgres.new_database()
    client = Redis.from_url(redis.url())
    await client.flushall()
    await client.aclose()
    flags = ("--database-url", database_url, "--redis-url", redis.url(), "--keepalive-seconds", "0.5")

    def start(name: str) -> ServerProcess:
        return ServerProcess(directory / name, presets, *flags)

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TEST_ANTHROPIC_KEY", TEST_KEY)  # the workers inherit the environment
        a, b = await asyncio.gather(asyncio.to_thread(start, "a"), asyncio.to_thread(start, "b"))
    try:
        async with aiohttp.ClientSession() as http:
            yield Workers(a, b, http)
    finally:
        await asyncio.gather(asyncio.to_thread(a.stop), asyncio.to_thread(b.stop))


def fresh(upstream: FakeUpstream) -> FakeUpstream:
    """The shared upstream with its per-test signals reset (no reply is in flight between tests)."""
    upstream.stream_started.clear()
    upstream.stream_finished.clear()
    upstream.disconnects = 0
    return upstream


def held(release: asyncio.Event) -> Reply:
    # text_basic: message_start, content_block_start, ping, then text deltas; hold after 5 events.
    return Reply.from_case("anthropic", "text_basic", hold_after_events=5, release=release)


async def start_on(workers: Workers, url: str, upstream: FakeUpstream, block: str) -> aiohttp.ClientResponse:
    response = await workers.http.post(
        f"{url}/api/ai/chat/{block}", json={"id": "chat-1", "messages": [user_message("hi")]}
    )
    assert response.status == 200
    await asyncio.wait_for(upstream.stream_started.wait(), 15)
    return response


async def read_until(response: aiohttp.ClientResponse, marker: bytes) -> bytes:
    """The SSE lines read up to and including the first one containing ``marker``."""
    seen = b""
    while marker not in seen:
        line = await asyncio.wait_for(response.content.readline(), 15)
        assert line, f"the stream ended before {marker!r}: {seen!r}"
        seen += line
    return seen
