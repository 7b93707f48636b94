"""A rolling restart of one of two workers (SIGTERM mid-answer) loses no saved message."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.engines import PostgresServer, RedisServer
from tests.scale.workers import Workers, held, read_until, running_workers, start_on
from tests.sse import parse_sse, types_of
from tests.upstream import FakeUpstream
from tests.web.test_chat_endpoint import user_message


@pytest.fixture
async def workers(
    tmp_path: Path, upstream: FakeUpstream, postgres_server: PostgresServer, redis_server: RedisServer
) -> AsyncIterator[Workers]:
    async with running_workers(tmp_path, upstream, postgres_server, redis_server) as pair:
        yield pair


async def test_rolling_restart_loses_no_saved_message(workers: Workers, upstream: FakeUpstream) -> None:
    release = asyncio.Event()
    upstream.enqueue(held(release))
    original = await start_on(workers, workers.a.url, upstream, "b5")
    follower = await workers.http.get(f"{workers.b.url}/api/ai/chat/b5/chat-1/stream")
    await read_until(follower, b'"text-delta"')
    # The client now follows on B; its first connection to A goes (as when a load balancer moves it).
    # Without that, A's shutdown would wait out aiohttp's 60 s grace for open handlers (graceful drain
    # is another issue's); A's handler finds the connection closed at its next keep-alive.
    original.close()
    workers.a.process.send_signal(signal.SIGTERM)  # A is restarted mid-answer
    # B's client sees the answer end as interrupted: A's shutdown interrupts it and saves it first.
    chunks, _, done = parse_sse(await asyncio.wait_for(follower.text(), 30))
    assert chunks[-1] == {"type": "finish", "finishReason": "interrupted"} and done
    assert await asyncio.to_thread(workers.a.process.wait, 30) == 0
    saved = await (await workers.http.get(f"{workers.b.url}/api/ai/conversations/b5")).json()
    assert [message["role"] for message in saved["messages"]] == ["user", "assistant"]
    assert saved["messages"][-1]["parts"][-1]["text"].startswith("Olá!")
    release.set()
    # The block is free on B, and the next answer is saved after the interrupted one.
    history = [*saved["messages"], user_message("go on")]
    again = await workers.http.post(f"{workers.b.url}/api/ai/chat/b5", json={"messages": history})
    assert types_of(parse_sse(await again.text())[0])[-1] == "finish"
    final = await (await workers.http.get(f"{workers.b.url}/api/ai/conversations/b5")).json()
    assert [message["role"] for message in final["messages"]] == ["user", "assistant", "user", "assistant"]
