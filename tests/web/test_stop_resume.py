"""Stop, resume (replay + live), one stream per block, and what a closed tab does."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from backend.app import create_app
from backend.web.app_keys import STREAMS
from tests.conftest import make_settings, write_fixture_presets
from tests.sse import parse_sse, types_of
from tests.upstream import FakeUpstream, Reply
from tests.web.test_chat_endpoint import user_message


def held_reply(release: asyncio.Event) -> Reply:
    # text_basic: message_start, content_block_start, ping, then text deltas; hold after 5 events.
    return Reply.from_case("anthropic", "text_basic", hold_after_events=5, release=release)


async def start_chat(client: TestClient[Any, Any], upstream: FakeUpstream, block: str = "b1") -> asyncio.Task[str]:
    async def run() -> str:
        response = await client.post(f"/api/ai/chat/{block}", json={"id": "chat-1", "messages": [user_message("hi")]})
        return await response.text()

    task = asyncio.create_task(run())
    await asyncio.wait_for(upstream.stream_started.wait(), 10)
    return task


async def test_resume_replays_from_start_then_continues(
    chat_client: TestClient[Any, Any], upstream: FakeUpstream
) -> None:
    release = asyncio.Event()
    upstream.enqueue(held_reply(release))
    original = await start_chat(chat_client, upstream)
    resumed_response = await chat_client.get("/api/ai/chat/b1/chat-1/stream")
    assert resumed_response.status == 200
    assert resumed_response.headers["X-Vercel-AI-UI-Message-Stream"] == "v1"
    release.set()
    resumed = await resumed_response.text()
    first = await original
    assert parse_sse(resumed)[0] == parse_sse(first)[0]  # the same chunks, from `start` on
    assert types_of(parse_sse(resumed)[0])[-1] == "finish"


async def test_resume_with_nothing_streaming_is_204(chat_client: TestClient[Any, Any]) -> None:
    response = await chat_client.get("/api/ai/chat/b1/chat-1/stream")
    assert response.status == 204


async def test_second_post_while_streaming_is_409(chat_client: TestClient[Any, Any], upstream: FakeUpstream) -> None:
    release = asyncio.Event()
    upstream.enqueue(held_reply(release))
    original = await start_chat(chat_client, upstream)
    response = await chat_client.post("/api/ai/chat/b1", json={"messages": [user_message("again")]})
    body = await response.json()
    assert response.status == 409
    assert body["error"]["code"] == "stream_active" and body["error"]["activeStream"]["blockId"] == "b1"
    release.set()
    await original


async def test_stop_cancels_upstream_and_saves_partial_answer(
    chat_client: TestClient[Any, Any], upstream: FakeUpstream
) -> None:
    release = asyncio.Event()
    upstream.enqueue(held_reply(release))
    original = await start_chat(chat_client, upstream)
    response = await chat_client.post("/api/ai/chat/b1/stop")
    stopped = await response.json()
    assert stopped["stopped"] is True
    chunks, _, done = parse_sse(await original)
    assert chunks[-1] == {"type": "finish", "finishReason": "interrupted"} and done
    assert "text-end" in types_of(chunks)
    saved = await (await chat_client.get("/api/ai/conversations/b1")).json()
    assistant = saved["messages"][-1]
    assert assistant["id"] == stopped["messageId"] == chunks[0]["messageId"]
    assert assistant["parts"][-1]["type"] == "text" and assistant["parts"][-1]["text"]
    release.set()  # the held upstream handler writes again and finds the connection closed
    await asyncio.wait_for(upstream.stream_finished.wait(), 10)
    assert upstream.disconnects == 1
    assert (await (await chat_client.post("/api/ai/chat/b1/stop")).json())["stopped"] is False


async def test_closed_tab_keeps_generating_by_default(
    chat_client: TestClient[Any, Any], upstream: FakeUpstream
) -> None:
    release = asyncio.Event()
    upstream.enqueue(held_reply(release))
    original = await start_chat(chat_client, upstream)
    original.cancel()  # the browser goes away mid-answer
    stream = await chat_client.app[STREAMS].get("default", "b1")  # type: ignore[index]
    assert stream is not None and stream.task is not None
    release.set()
    await asyncio.wait_for(asyncio.shield(stream.task), 10)
    saved = await (await chat_client.get("/api/ai/conversations/b1")).json()
    assert saved["messages"][-1]["parts"][-1]["text"].startswith("Olá!")
    assert saved["messages"][-1]["parts"][-1]["state"] == "done"


async def test_cancel_on_disconnect_setting_cancels_upstream(
    tmp_path: Path, upstream: FakeUpstream, aiohttp_client: Any
) -> None:
    write_fixture_presets(tmp_path / "presets", upstream.url)
    client = await aiohttp_client(
        create_app(make_settings(tmp_path, tmp_path / "presets", cancel_on_disconnect=True, keepalive_seconds=0.05))
    )
    release = asyncio.Event()
    upstream.enqueue(held_reply(release))
    response = await client.post("/api/ai/chat/b1", json={"messages": [user_message("hi")]})
    await asyncio.wait_for(upstream.stream_started.wait(), 10)
    await response.content.readline()  # the stream is open
    stream = await client.app[STREAMS].get("default", "b1")
    assert stream is not None and stream.task is not None
    response.close()  # the tab closes; the next keep-alive write notices
    await asyncio.wait_for(asyncio.gather(stream.task, return_exceptions=True), 10)
    saved = await (await client.get("/api/ai/conversations/b1")).json()
    assert saved["messages"][-1]["parts"][-1]["state"] == "done"  # closed as interrupted
    release.set()


async def test_keepalive_comments_while_the_model_is_silent(
    tmp_path: Path, upstream: FakeUpstream, aiohttp_client: Any
) -> None:
    write_fixture_presets(tmp_path / "presets", upstream.url)
    client = await aiohttp_client(create_app(make_settings(tmp_path, tmp_path / "presets", keepalive_seconds=0.02)))
    release = asyncio.Event()
    upstream.enqueue(held_reply(release))
    response = await client.post("/api/ai/chat/b1", json={"messages": [user_message("hi")]})
    seen = b""
    while b": keep-alive" not in seen:
        seen += await asyncio.wait_for(response.content.readline(), 10)
    release.set()
    chunks, comments, done = parse_sse(seen.decode() + await response.text())
    assert comments and done and chunks[-1]["finishReason"] == "stop"
