"""Two real worker processes (``python -m backend``) on one PostgreSQL and one Redis (docs/scaling.md).

The fake upstream runs in the test process; both workers reach it over loopback, and a held
reply (``hold_after_events`` + ``release``) is a model that is mid-answer until the test says so.
The workers, the database and the upstream are shared by this module's tests (starting two
workers costs seconds); each test uses its own blocks.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from tests.engines import PostgresServer, RedisServer
from tests.scale.workers import Workers, fresh, held, read_until, running_workers, start_on
from tests.sse import parse_sse, types_of
from tests.upstream import FakeUpstream
from tests.web.test_chat_endpoint import user_message

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def shared(
    tmp_path_factory: pytest.TempPathFactory, postgres_server: PostgresServer, redis_server: RedisServer
) -> AsyncIterator[tuple[Workers, FakeUpstream]]:
    directory: Path = tmp_path_factory.mktemp("two-workers")
    async with FakeUpstream() as upstream, running_workers(directory, upstream, postgres_server, redis_server) as pair:
        yield pair, upstream


@pytest.fixture
def workers(shared: tuple[Workers, FakeUpstream]) -> Workers:
    return shared[0]


@pytest.fixture
def upstream(shared: tuple[Workers, FakeUpstream]) -> FakeUpstream:
    return fresh(shared[1])


async def test_resume_on_another_worker_replays_then_follows_live(workers: Workers, upstream: FakeUpstream) -> None:
    release = asyncio.Event()
    upstream.enqueue(held(release))
    original = await start_on(workers, workers.a.url, upstream, "b1")
    resumed = await workers.http.get(f"{workers.b.url}/api/ai/chat/b1/chat-1/stream")
    assert resumed.status == 200
    # Replay: what A streamed before the hold reaches the client of B while the model is still held.
    head = await read_until(resumed, b'"text-delta"')
    assert head.startswith(b'data: {"type":"start"')
    release.set()  # live: the rest streams on A and reaches B
    resumed_text = head.decode() + await resumed.text()
    original_chunks, _, original_done = parse_sse(await original.text())
    resumed_chunks, _, resumed_done = parse_sse(resumed_text)
    assert resumed_chunks == original_chunks and original_done and resumed_done
    assert types_of(resumed_chunks)[-1] == "finish"
    # Finished: nothing to resume any more, on either worker.
    for url in (workers.a.url, workers.b.url):
        assert (await workers.http.get(f"{url}/api/ai/chat/b1/chat-1/stream")).status == 204


async def test_stop_on_b_stops_the_generation_on_a_and_saves_it(workers: Workers, upstream: FakeUpstream) -> None:
    release = asyncio.Event()
    upstream.enqueue(held(release))
    original = await start_on(workers, workers.a.url, upstream, "b2")
    stopped = await (await workers.http.post(f"{workers.b.url}/api/ai/chat/b2/stop")).json()
    assert stopped["stopped"] is True and stopped["messageId"].startswith("msg-")
    chunks, _, done = parse_sse(await original.text())
    assert chunks[-1] == {"type": "finish", "finishReason": "interrupted"} and done
    # B answered the stop only after A saved the partial answer.
    saved = await (await workers.http.get(f"{workers.b.url}/api/ai/conversations/b2")).json()
    assistant = saved["messages"][-1]
    assert assistant["role"] == "assistant" and assistant["id"] == stopped["messageId"]
    assert assistant["parts"][-1]["text"].startswith("Olá!")
    release.set()  # the held upstream handler writes again and finds that A closed the connection
    await asyncio.wait_for(upstream.stream_finished.wait(), 15)
    assert upstream.disconnects == 1  # A cancelled its provider call
    # The block is free again: a new message through B is answered (by the path-scripted fixture).
    again = await workers.http.post(f"{workers.b.url}/api/ai/chat/b2", json={"messages": [user_message("more")]})
    assert types_of(parse_sse(await again.text())[0])[-1] == "finish"


async def test_second_post_on_b_while_a_streams_is_409(workers: Workers, upstream: FakeUpstream) -> None:
    release = asyncio.Event()
    upstream.enqueue(held(release))
    original = await start_on(workers, workers.a.url, upstream, "b3")
    response = await workers.http.post(f"{workers.b.url}/api/ai/chat/b3", json={"messages": [user_message("x")]})
    body: dict[str, Any] = await response.json()
    assert response.status == 409 and body["error"]["code"] == "stream_active"
    assert body["error"]["activeStream"]["blockId"] == "b3"
    assert body["error"]["activeStream"]["chatId"] == "chat-1"
    release.set()
    assert types_of(parse_sse(await original.text())[0])[-1] == "finish"


async def test_conversation_written_on_a_reads_the_same_on_b(workers: Workers) -> None:
    messages = [user_message("hello"), {"id": "a1", "role": "assistant", "parts": [{"type": "text", "text": "hi"}]}]
    written = await workers.http.post(f"{workers.a.url}/api/ai/conversations/b4", json={"messages": messages})
    assert written.status == 200 and written.headers["ETag"] == '"1"'
    read = await workers.http.get(f"{workers.b.url}/api/ai/conversations/b4")
    assert read.headers["ETag"] == written.headers["ETag"]
    assert (await read.json())["messages"] == messages
    # The version check holds across workers: B's write with A's stale ETag after A wrote again is 409.
    await workers.http.post(
        f"{workers.a.url}/api/ai/conversations/b4", json={"messages": messages}, headers={"If-Match": '"1"'}
    )
    stale = await workers.http.post(
        f"{workers.b.url}/api/ai/conversations/b4", json={"messages": messages[:1]}, headers={"If-Match": '"1"'}
    )
    assert stale.status == 409 and (await stale.json())["error"]["currentVersion"] == 2
    meta = await workers.http.patch(f"{workers.a.url}/api/blocks/b4/meta", json={"title": "t"})
    assert meta.status == 200
    assert await (await workers.http.get(f"{workers.b.url}/api/blocks/b4/meta")).json() == {"title": "t"}
