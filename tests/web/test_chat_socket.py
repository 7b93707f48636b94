"""The WebSocket front door (``GET /api/ai/chat/<blockId>`` upgraded; docs/api.md#websocket) in
process: the handshake's security rules, the frames, resume from ``lastSequence``, abort as a stop,
and a disconnect. The real ``WebSocketChatTransport`` drives it in tests/conformance/test_websocket.py."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from backend.app import create_app
from backend.web.app_keys import STREAMS
from tests.conftest import make_settings, write_fixture_presets
from tests.upstream import FakeUpstream, Reply
from tests.web.test_chat_endpoint import user_message

TOKEN = "socket-token-0123456789abcdef"


@pytest.fixture
def make_client(tmp_path: Path, upstream: FakeUpstream, aiohttp_client: Callable[..., Any]) -> Callable[..., Any]:
    async def make(**settings: Any) -> TestClient[Any, Any]:
        presets_dir = tmp_path / "presets"
        write_fixture_presets(presets_dir, upstream.url)
        client: TestClient[Any, Any] = await aiohttp_client(
            create_app(make_settings(tmp_path, presets_dir, **settings))
        )
        return client

    return make


def send_frame(request_id: str, text: str = "hi", **body: Any) -> dict[str, Any]:
    return {
        "type": "send",
        "requestId": request_id,
        "id": "chat-1",
        "trigger": "submit-message",
        "messageId": None,
        "messages": [user_message(text)],
        "headers": {},
        "body": body,
        "metadata": None,
    }


async def frames_until_end(socket: aiohttp.ClientWebSocketResponse, request_id: str) -> list[dict[str, Any]]:
    """Every frame for ``request_id`` up to its ``end``, ``error`` or ``no-active``."""
    frames: list[dict[str, Any]] = []
    while True:
        message = await asyncio.wait_for(socket.receive(), 10)
        assert message.type == aiohttp.WSMsgType.TEXT, message
        frame = json.loads(message.data)
        if frame["requestId"] != request_id:
            continue
        frames.append(frame)
        if frame["type"] in ("end", "error", "no-active"):
            return frames


def chunks(frames: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [frame["chunk"] for frame in frames if frame["type"] == "chunk"]


async def test_send_streams_numbered_chunks_and_saves(chat_client: TestClient[Any, Any]) -> None:
    async with chat_client.ws_connect("/api/ai/chat/b1", protocols=("chatwire",)) as socket:
        assert socket.protocol == "chatwire"
        await socket.send_json(send_frame("r1"))
        frames = await frames_until_end(socket, "r1")
    assert frames[0] == {"type": "start", "requestId": "r1"}
    assert frames[-1] == {"type": "end", "requestId": "r1"}
    numbered = [frame for frame in frames if frame["type"] == "chunk"]
    assert [frame["sequence"] for frame in numbered] == list(range(len(numbered)))
    kinds = [chunk["type"] for chunk in chunks(frames)]
    assert kinds[0] == "start" and kinds[-1] == "finish" and "text-delta" in kinds
    saved = await (await chat_client.get("/api/ai/conversations/b1")).json()
    assert [message["role"] for message in saved["messages"]] == ["user", "assistant"]


async def test_bad_requests_answer_error_frames(chat_client: TestClient[Any, Any]) -> None:
    async with chat_client.ws_connect("/api/ai/chat/b1") as socket:
        await socket.send_json({**send_frame("r1"), "messages": []})
        (error,) = await frames_until_end(socket, "r1")
        assert error["type"] == "error" and "messages" in error["errorText"] and "[invalid_body]" in error["errorText"]
        await socket.send_json(send_frame("r2", options={"apiKey": "sk-x"}))
        (error,) = await frames_until_end(socket, "r2")
        assert "[option_not_allowed]" in error["errorText"]
        await socket.send_json({"type": "upload", "requestId": "r3"})
        (error,) = await frames_until_end(socket, "r3")
        assert "Unknown frame type" in error["errorText"]
        await socket.send_json({"type": "resume", "requestId": "r4", "id": "chat-1", "headers": {}, "body": {}})
        assert await frames_until_end(socket, "r4") == [{"type": "no-active", "requestId": "r4"}]
        # Without a requestId nothing can be answered: the connection closes (1007).
        await socket.send_str("not json")
        closing = await asyncio.wait_for(socket.receive(), 10)
        assert closing.type == aiohttp.WSMsgType.CLOSE and closing.data == 1007


async def test_a_plain_get_explains_the_transport(chat_client: TestClient[Any, Any]) -> None:
    response = await chat_client.get("/api/ai/chat/b1")
    assert response.status == 400
    assert (await response.json())["error"]["code"] == "websocket_expected"


async def test_resume_from_last_sequence_after_a_reconnect_has_no_duplicates(
    chat_client: TestClient[Any, Any], upstream: FakeUpstream
) -> None:
    """The client got chunks 0..k, lost its socket, reconnects and resumes from k: it gets k+1.. only,
    and what it holds is exactly the stream a full replay shows."""
    release = asyncio.Event()
    upstream.enqueue(Reply.from_case("anthropic", "text_basic", hold_after_events=5, release=release))
    async with chat_client.ws_connect("/api/ai/chat/b1") as first:
        await first.send_json(send_frame("r1"))
        received: list[dict[str, Any]] = []
        while len([frame for frame in received if frame["type"] == "chunk"]) < 3:
            received.append(json.loads((await asyncio.wait_for(first.receive(), 10)).data))
    last = max(frame["sequence"] for frame in received if frame["type"] == "chunk")
    async with chat_client.ws_connect("/api/ai/chat/b1") as second:
        await second.send_json(
            {"type": "resume", "requestId": "r2", "id": "chat-1", "lastSequence": last, "headers": {}, "body": {}}
        )
        assert json.loads((await asyncio.wait_for(second.receive(), 10)).data) == {"type": "start", "requestId": "r2"}
        release.set()
        rest = await frames_until_end(second, "r2")
    sequences = [frame["sequence"] for frame in rest if frame["type"] == "chunk"]
    assert sequences == list(range(last + 1, last + 1 + len(sequences)))
    held = chunks(received) + chunks(rest)
    kinds = [chunk["type"] for chunk in held]
    assert kinds.count("start") == 1 and kinds[-1] == "finish"
    text = "".join(chunk["delta"] for chunk in held if chunk["type"] == "text-delta")
    saved = await (await chat_client.get("/api/ai/conversations/b1")).json()
    assert saved["messages"][-1]["parts"][-1]["text"] == text


async def test_abort_is_a_stop_saved_interrupted(chat_client: TestClient[Any, Any], upstream: FakeUpstream) -> None:
    release = asyncio.Event()
    upstream.enqueue(Reply.from_case("anthropic", "text_basic", hold_after_events=5, release=release))
    async with chat_client.ws_connect("/api/ai/chat/b1") as socket:
        await socket.send_json(send_frame("r1"))
        await asyncio.wait_for(upstream.stream_started.wait(), 10)
        await socket.send_json({"type": "abort", "requestId": "r1"})
        frames = await frames_until_end(socket, "r1")
    release.set()
    assert chunks(frames)[-1] == {"type": "finish", "finishReason": "interrupted"}
    saved = await (await chat_client.get("/api/ai/conversations/b1")).json()
    assert saved["messages"][-1]["role"] == "assistant"
    assert (await (await chat_client.post("/api/ai/chat/b1/stop")).json())["stopped"] is False


async def test_a_closed_socket_is_a_disconnect(make_client: Callable[..., Any], upstream: FakeUpstream) -> None:
    """With --cancel-on-disconnect the answer stops when its last socket goes, as with SSE; without
    it (the default, the test above) the answer goes on."""
    client = await make_client(cancel_on_disconnect=True)
    release = asyncio.Event()
    upstream.enqueue(Reply.from_case("anthropic", "text_basic", hold_after_events=5, release=release))
    async with client.ws_connect("/api/ai/chat/b1") as socket:
        await socket.send_json(send_frame("r1"))
        await asyncio.wait_for(upstream.stream_started.wait(), 10)
        stream = await client.app[STREAMS].get("default", "b1")
        assert stream is not None and stream.task is not None
    await asyncio.wait_for(asyncio.gather(stream.task, return_exceptions=True), 10)
    release.set()
    saved = await (await client.get("/api/ai/conversations/b1")).json()
    assert saved["messages"][-1]["role"] == "assistant"
    assert saved["messages"][-1]["parts"][-1]["state"] == "done"  # closed as interrupted


async def test_without_cancel_on_disconnect_the_answer_goes_on(
    chat_client: TestClient[Any, Any], upstream: FakeUpstream
) -> None:
    release = asyncio.Event()
    upstream.enqueue(Reply.from_case("anthropic", "text_basic", hold_after_events=5, release=release))
    async with chat_client.ws_connect("/api/ai/chat/b1") as socket:
        await socket.send_json(send_frame("r1"))
        await asyncio.wait_for(upstream.stream_started.wait(), 10)
        stream = await chat_client.app[STREAMS].get("default", "b1")
        assert stream is not None and stream.task is not None
    release.set()
    await asyncio.wait_for(asyncio.gather(stream.task, return_exceptions=True), 10)
    assert not stream.task.cancelled()
    saved = await (await chat_client.get("/api/ai/conversations/b1")).json()
    assert saved["messages"][-1]["parts"][-1]["text"].startswith("Olá!")


# ---- the handshake passes the security rules (docs/security.md#websocket) ----------------------


async def test_cross_site_handshake_is_refused(make_client: Callable[..., Any]) -> None:
    client = await make_client()
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await client.ws_connect("/api/ai/chat/b1", headers={"Origin": "https://attacker.example"})
    assert refused.value.status == 403
    own = await client.ws_connect("/api/ai/chat/b1", headers={"Origin": str(client.make_url("/")).rstrip("/")})
    await own.close()


async def test_listed_origin_and_foreign_host(make_client: Callable[..., Any]) -> None:
    client = await make_client(cors_origins=("http://app.example:3000",))
    listed = await client.ws_connect("/api/ai/chat/b1", headers={"Origin": "http://app.example:3000"})
    await listed.close()
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await client.ws_connect("/api/ai/chat/b1", headers={"Host": "attacker.example"})
    assert refused.value.status == 403


async def test_token_by_header_or_subprotocol(make_client: Callable[..., Any]) -> None:
    client = await make_client(auth_token=TOKEN)
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await client.ws_connect("/api/ai/chat/b1")
    assert refused.value.status == 401
    with pytest.raises(aiohttp.WSServerHandshakeError):
        await client.ws_connect("/api/ai/chat/b1", protocols=("chatwire", "chatwire.bearer.wrong-token-0123456789"))
    by_header = await client.ws_connect("/api/ai/chat/b1", headers={"Authorization": f"Bearer {TOKEN}"})
    await by_header.close()
    by_subprotocol = await client.ws_connect("/api/ai/chat/b1", protocols=("chatwire", f"chatwire.bearer.{TOKEN}"))
    assert by_subprotocol.protocol == "chatwire"  # the token is never echoed back
    await by_subprotocol.close()
