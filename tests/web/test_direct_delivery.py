"""A caught-up follower gets its chunks straight from the generation (``ChunkSink.offer``); one
that cannot take them at once falls back to its own task. Over real sockets: a reader too slow
for the stream, followers joining mid-stream, a client leaving mid-stream."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path
from typing import Any

import aiohttp

from backend.app import create_app
from backend.web.app_keys import STREAMS
from tests.conftest import make_settings, write_queue_default_preset
from tests.sse import parse_sse, types_of
from tests.upstream import FakeUpstream, Reply
from tests.web.test_chat_endpoint import user_message


def numbered_answer(tokens: int, filler: int = 0) -> bytes:
    """An Anthropic stream whose deltas are ``<index>:`` plus ``filler`` bytes: order, loss and
    duplicates all show in the text."""
    events = [
        'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_d","type":"message",'
        '"role":"assistant","model":"m","content":[],"stop_reason":null,"stop_sequence":null,'
        '"usage":{"input_tokens":3,"output_tokens":1}}}\n\n',
        'event: content_block_start\ndata: {"type":"content_block_start","index":0,'
        '"content_block":{"type":"text","text":""}}\n\n',
    ]
    for index in range(tokens):
        text = f"{index}:" + "x" * filler + " "
        events.append(
            'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
            '"delta":{"type":"text_delta","text":"' + text + '"}}\n\n'
        )
    events += [
        'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n',
        'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn",'
        '"stop_sequence":null},"usage":{"output_tokens":' + str(tokens) + "}}\n\n",
        'event: message_stop\ndata: {"type":"message_stop"}\n\n',
    ]
    return "".join(events).encode()


def expected_text(tokens: int, filler: int = 0) -> str:
    return "".join(f"{index}:" + "x" * filler + " " for index in range(tokens))


def streamed_text(chunks: list[dict[str, Any]]) -> str:
    return "".join(chunk["delta"] for chunk in chunks if chunk["type"] == "text-delta")


async def make_client(tmp_path: Path, upstream: FakeUpstream, aiohttp_client: Any, **settings: Any) -> Any:
    presets = tmp_path / "presets"
    write_queue_default_preset(presets, upstream.url)
    return await aiohttp_client(create_app(make_settings(tmp_path, presets, **settings)))


def dechunk(raw: bytes) -> bytes:
    """The body of an HTTP/1.1 response with ``Transfer-Encoding: chunked``."""
    head, _, rest = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and b"chunked" in head.lower(), head[:200]
    body = b""
    while True:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            return body
        body += rest[:size]
        rest = rest[size + 2 :]


async def test_a_reader_too_slow_for_the_stream_gets_every_chunk_in_order(
    tmp_path: Path, upstream: FakeUpstream, aiohttp_client: Any
) -> None:
    # ~6 MB of answer to a client with a 4 KiB receive window that reads nothing until the answer
    # has been generated: the server's transport fills past its high-water mark, offers are
    # refused, and the follower must catch up from its position afterwards.
    tokens, filler = 1500, 4000
    client = await make_client(tmp_path, upstream, aiohttp_client)
    upstream.enqueue(Reply.sse(numbered_answer(tokens, filler)))
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.setblocking(False)
    await asyncio.get_running_loop().sock_connect(raw, (client.host, client.port))
    reader, writer = await asyncio.open_connection(sock=raw, limit=4096)
    body = json.dumps({"messages": [user_message("go")]}).encode()
    writer.write(
        b"POST /api/ai/chat/slow HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Connection: close\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )
    await asyncio.wait_for(upstream.stream_started.wait(), 10)
    stream = await client.app[STREAMS].get("default", "slow")
    assert stream is not None and stream.task is not None
    await asyncio.wait_for(asyncio.gather(stream.task), 60)  # generated in full, nothing read yet
    assert stream.followers == 1  # still writing its backlog: it fell behind
    received = await asyncio.wait_for(reader.read(), 60)
    writer.close()
    chunks, _, done = parse_sse(dechunk(received).decode())
    assert done and types_of(chunks)[0] == "start" and chunks[-1]["type"] == "finish"
    assert streamed_text(chunks) == expected_text(tokens, filler)


async def test_followers_joining_mid_stream_see_the_whole_answer_once(
    tmp_path: Path, upstream: FakeUpstream, aiohttp_client: Any
) -> None:
    client = await make_client(tmp_path, upstream, aiohttp_client)
    release = asyncio.Event()
    upstream.enqueue(Reply.sse(numbered_answer(40), hold_after_events=12, release=release))
    first = await client.post("/api/ai/chat/b1", json={"id": "chat-1", "messages": [user_message("go")]})
    seen = b""
    while b'"text-delta"' not in seen:  # the first follower is live (caught up) before the others join
        seen += await asyncio.wait_for(first.content.readline(), 10)
    resumed = await client.get("/api/ai/chat/b1/chat-1/stream")
    assert resumed.status == 200
    socket_client = await client.ws_connect("/api/ai/chat/b1")
    await socket_client.send_json(
        {"type": "resume", "requestId": "r1", "id": "chat-1", "lastSequence": 3, "headers": {}, "body": {}}
    )
    assert (await socket_client.receive_json(timeout=10))["type"] == "start"
    first_frame = await socket_client.receive_json(timeout=10)
    release.set()
    frames = [first_frame]
    while frames[-1]["type"] == "chunk":
        frames.append(await socket_client.receive_json(timeout=10))
    await socket_client.close()
    first_chunks, _, first_done = parse_sse(seen.decode() + await first.text())
    resumed_chunks, _, resumed_done = parse_sse(await resumed.text())
    assert first_done and resumed_done and resumed_chunks == first_chunks
    assert streamed_text(first_chunks) == expected_text(40)
    assert frames[-1]["type"] == "end"
    sequences = [frame["sequence"] for frame in frames[:-1]]
    assert sequences == list(range(4, len(first_chunks)))  # from lastSequence + 1, none twice or missing
    assert [frame["chunk"] for frame in frames[:-1]] == first_chunks[4:]


async def test_a_client_leaving_mid_stream_cancels_the_answer_when_configured(
    tmp_path: Path, upstream: FakeUpstream, aiohttp_client: Any
) -> None:
    # The keep-alive is far off: the next chunk offered to the closed connection is what notices.
    client = await make_client(tmp_path, upstream, aiohttp_client, cancel_on_disconnect=True, keepalive_seconds=60)
    release = asyncio.Event()
    tokens = 400
    upstream.enqueue(
        Reply.sse(numbered_answer(tokens), hold_after_events=6, release=release, event_delay_seconds=0.005)
    )
    response = await client.post("/api/ai/chat/b1", json={"messages": [user_message("go")]})
    seen = b""
    while b'"text-delta"' not in seen:
        seen += await asyncio.wait_for(response.content.readline(), 10)
    stream = await client.app[STREAMS].get("default", "b1")
    assert stream is not None and stream.task is not None
    response.close()
    release.set()
    await asyncio.wait_for(asyncio.gather(stream.task, return_exceptions=True), 30)
    saved = await (await client.get("/api/ai/conversations/b1")).json()
    text = saved["messages"][-1]["parts"][-1]["text"]
    assert expected_text(tokens).startswith(text) and len(text) < len(expected_text(tokens))  # cut short
    assert stream.followers == 0


async def test_a_client_leaving_mid_stream_leaves_the_answer_going_by_default(
    tmp_path: Path, upstream: FakeUpstream, aiohttp_client: Any
) -> None:
    client = await make_client(tmp_path, upstream, aiohttp_client)
    release = asyncio.Event()
    upstream.enqueue(Reply.sse(numbered_answer(100), hold_after_events=6, release=release))
    response = await client.post("/api/ai/chat/b1", json={"id": "chat-1", "messages": [user_message("go")]})
    seen = b""
    while b'"text-delta"' not in seen:
        seen += await asyncio.wait_for(response.content.readline(), 10)
    stream = await client.app[STREAMS].get("default", "b1")
    assert stream is not None and stream.task is not None
    response.close()
    release.set()
    await asyncio.wait_for(asyncio.gather(stream.task), 30)
    saved = await (await client.get("/api/ai/conversations/b1")).json()
    assert saved["messages"][-1]["parts"][-1]["text"] == expected_text(100)


async def test_keep_alives_reach_a_caught_up_follower(
    tmp_path: Path, upstream: FakeUpstream, aiohttp_client: Any
) -> None:
    client = await make_client(tmp_path, upstream, aiohttp_client, keepalive_seconds=0.02)
    release = asyncio.Event()
    upstream.enqueue(Reply.sse(numbered_answer(10), hold_after_events=6, release=release))
    response = await client.post("/api/ai/chat/b1", json={"messages": [user_message("go")]})
    seen = b""
    while b'"text-delta"' not in seen:
        seen += await asyncio.wait_for(response.content.readline(), 10)
    while b": keep-alive" not in seen:  # caught up, then silent: the idle tick wakes the follower
        seen += await asyncio.wait_for(response.content.readline(), 10)
    release.set()
    chunks, comments, done = parse_sse(seen.decode() + await response.text())
    assert comments and done and streamed_text(chunks) == expected_text(10)


async def test_the_connection_stays_usable_after_a_directly_written_answer(
    tmp_path: Path, upstream: FakeUpstream, aiohttp_client: Any
) -> None:
    # The chunked framing of offered writes must leave the keep-alive connection in a clean state.
    client = await make_client(tmp_path, upstream, aiohttp_client)
    connector = aiohttp.TCPConnector(limit=1)
    async with aiohttp.ClientSession(connector=connector) as session:
        for block in ("b1", "b2"):
            upstream.enqueue(Reply.sse(numbered_answer(20)))
            async with session.post(
                client.make_url(f"/api/ai/chat/{block}"), json={"messages": [user_message("go")]}
            ) as response:
                chunks, _, done = parse_sse(await response.text())
            assert done and streamed_text(chunks) == expected_text(20)
