"""Losing worker A mid-answer while worker B serves the same block (docs/scaling.md, "Failure modes").

A rolling restart (SIGTERM: A drains, and at its drain deadline ends the answer ``interrupted`` and
saves it) and a crash (SIGKILL: nothing of A runs; B recovers the answer from Redis, closes it and
saves it). B, the database and the upstream are shared by the module; each test starts its own A.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from redis.asyncio import Redis

from backend.chat.redis_streams import WORKER_GONE
from tests.conftest import TEST_KEY, write_fixture_presets
from tests.engines import PostgresServer, RedisServer
from tests.scale.workers import fresh, held, read_until
from tests.server_process import ServerProcess
from tests.sse import parse_sse, types_of
from tests.upstream import FakeUpstream
from tests.web.test_chat_endpoint import user_message

pytestmark = pytest.mark.asyncio(loop_scope="module")


@dataclass
class Cluster:
    directory: Path
    flags: tuple[str, ...]
    b: ServerProcess
    upstream: FakeUpstream
    http: aiohttp.ClientSession

    def start_a(self, *extra: str) -> ServerProcess:
        return ServerProcess(self.directory / "a", self.directory / "presets", *self.flags, *extra)


@contextlib.contextmanager
def with_test_key() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TEST_ANTHROPIC_KEY", TEST_KEY)  # the workers inherit the environment
        yield


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def cluster(
    tmp_path_factory: pytest.TempPathFactory, postgres_server: PostgresServer, redis_server: RedisServer
) -> AsyncIterator[Cluster]:
    directory = tmp_path_factory.mktemp("worker-loss")
    client = Redis.from_url(redis_server.url(1))  # its own Redis database: other modules flush theirs
    await client.flushdb()
    await client.aclose()
    # A lock of 1 s: a dead worker's block frees (and its answer is recovered) about 1 s after its death.
    flags = (
        *("--database-url", await postgres_server.new_database(), "--redis-url", redis_server.url(1)),
        *("--keepalive-seconds", "0.5", "--stream-lock-seconds", "1"),
    )
    async with FakeUpstream() as upstream:
        write_fixture_presets(directory / "presets", upstream.url)
        with with_test_key():
            b = await asyncio.to_thread(ServerProcess, directory / "b", directory / "presets", *flags)
        try:
            async with aiohttp.ClientSession() as http:
                yield Cluster(directory, flags, b, upstream, http)
        finally:
            await asyncio.to_thread(b.stop)


async def start_answer(cluster: Cluster, a: ServerProcess, block: str) -> tuple[aiohttp.ClientResponse, Any]:
    """A held answer started on A, and a client following it on B (it has seen text)."""
    original = await cluster.http.post(
        f"{a.url}/api/ai/chat/{block}", json={"id": "c", "messages": [user_message("hi")]}
    )
    assert original.status == 200
    await asyncio.wait_for(cluster.upstream.stream_started.wait(), 15)
    follower = await cluster.http.get(f"{cluster.b.url}/api/ai/chat/{block}/c/stream")
    assert follower.status == 200
    head = await read_until(follower, b'"text-delta"')
    return original, (follower, head)


async def conversation(cluster: Cluster, block: str) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = (
        await (await cluster.http.get(f"{cluster.b.url}/api/ai/conversations/{block}")).json()
    )["messages"]
    return messages


async def next_message_on_b(cluster: Cluster, block: str, history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    again = await cluster.http.post(
        f"{cluster.b.url}/api/ai/chat/{block}", json={"messages": [*history, user_message("go on")]}
    )
    assert again.status == 200 and types_of(parse_sse(await again.text())[0])[-1] == "finish"
    return await conversation(cluster, block)


async def test_rolling_restart_ends_the_answer_interrupted_at_the_drain_deadline(cluster: Cluster) -> None:
    upstream, release = fresh(cluster.upstream), asyncio.Event()
    upstream.enqueue(held(release))
    with with_test_key():
        a = await asyncio.to_thread(cluster.start_a, "--drain-seconds", "1")
    try:
        original, (follower, head) = await start_answer(cluster, a, "r1")
        a.process.send_signal(signal.SIGTERM)  # A is restarted mid-answer; the model is still writing
        # At A's drain deadline the answer ends interrupted, for A's own client and for B's.
        for response, before in ((original, b""), (follower, head)):
            chunks, _, done = parse_sse(before.decode() + await asyncio.wait_for(response.text(), 30))
            assert chunks[-1] == {"type": "finish", "finishReason": "interrupted"} and done
        assert await asyncio.to_thread(a.process.wait, 30) == 0
    finally:
        release.set()
        await asyncio.to_thread(a.stop)
    saved = await conversation(cluster, "r1")
    assert [message["role"] for message in saved] == ["user", "assistant"]
    assert saved[-1]["parts"][-1]["text"].startswith("Olá!")
    # The block is free on B at once, and the next answer is saved after the interrupted one.
    final = await next_message_on_b(cluster, "r1", saved)
    assert [message["role"] for message in final] == ["user", "assistant", "user", "assistant"]
    assert final[1] == saved[1]


async def test_sigkill_mid_answer_then_resume_and_a_new_message_on_b(cluster: Cluster) -> None:
    upstream, release = fresh(cluster.upstream), asyncio.Event()
    upstream.enqueue(held(release))
    with with_test_key():
        a = await asyncio.to_thread(cluster.start_a)
    try:
        original, (follower, head) = await start_answer(cluster, a, "k1")
        a.kill()  # SIGKILL: A saves nothing, writes no end, releases no lock
        original.close()
        # B's client gets what streamed, then a clear end once A's lock lapses: never a hang.
        chunks, _, done = parse_sse(head.decode() + await asyncio.wait_for(follower.text(), 30))
    finally:
        release.set()
    assert done and chunks[-2:] == [
        {"type": "error", "errorText": WORKER_GONE},
        {"type": "finish", "finishReason": "interrupted"},
    ]
    streamed = "".join(chunk["delta"] for chunk in chunks if chunk["type"] == "text-delta")
    assert streamed.startswith("Olá!")
    # The partial answer was saved (by B, recovering it) as the client holds it.
    saved = await conversation(cluster, "k1")
    assert [message["role"] for message in saved] == ["user", "assistant"]
    assert saved[1]["id"] == chunks[0]["messageId"] and saved[1]["parts"][-1]["text"] == streamed
    # Resuming again: nothing is live any more.
    assert (await cluster.http.get(f"{cluster.b.url}/api/ai/chat/k1/c/stream")).status == 204
    # The block takes a new message, answered and saved after the partial answer.
    final = await next_message_on_b(cluster, "k1", saved)
    assert [message["role"] for message in final] == ["user", "assistant", "user", "assistant"]
    assert final[1] == saved[1] and final[3]["id"] != saved[1]["id"]
