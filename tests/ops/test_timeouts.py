"""A hung upstream: the idle timeout ends the attempt, a retry before output, an error chunk after it,
and the block is free again right away."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from tests.ops.helpers import ops_client, user_message
from tests.sse import parse_sse
from tests.upstream import FakeUpstream, Reply

IDLE = "[timeouts]\nidle_seconds = 0.3\n"


async def test_silence_after_output_is_retried_with_reset_step(
    tmp_path: Path, upstream: FakeUpstream, aiohttp_client: Any
) -> None:
    client = await ops_client(tmp_path, upstream.url, aiohttp_client, {"hangs": IDLE})
    never = asyncio.Event()  # the upstream sends five events, then nothing, forever
    upstream.enqueue(
        Reply.from_case("anthropic", "text_basic", hold_after_events=5, release=never),
        Reply.from_case("anthropic", "text_basic"),
    )
    response = await client.post("/api/ai/chat/b1?preset=hangs", json={"messages": [user_message("hi")]})
    chunks, _, done = parse_sse(await response.text())
    assert done and not [chunk for chunk in chunks if chunk["type"] == "error"]
    assert [chunk["type"] for chunk in chunks].count("reset-step") == 1
    assert chunks[-1] == {"type": "finish", "finishReason": "stop"}
    assert len(upstream.requests) == 2
    never.set()


async def test_silence_on_every_attempt_ends_the_answer_with_an_error_and_frees_the_block(
    tmp_path: Path, upstream: FakeUpstream, aiohttp_client: Any
) -> None:
    client = await ops_client(tmp_path, upstream.url, aiohttp_client, {"hangs": IDLE})
    never = asyncio.Event()
    held = [Reply.from_case("anthropic", "text_basic", hold_after_events=5, release=never) for _ in range(3)]
    upstream.enqueue(*held)
    response = await client.post("/api/ai/chat/b1?preset=hangs", json={"messages": [user_message("hi")]})
    chunks, _, done = parse_sse(await response.text())
    assert done
    errors = [chunk["errorText"] for chunk in chunks if chunk["type"] == "error"]
    assert len(errors) == 1 and "did not answer in time" in errors[0] and "idle timeout" in errors[0]
    assert chunks[-1] == {"type": "finish", "finishReason": "error"}
    assert len(upstream.requests) == 3  # the whole attempt budget
    # The block is usable again at once.
    again = await client.post("/api/ai/chat/b1", json={"messages": [user_message("again", "u2")]})
    assert again.status == 200
    chunks, _, _ = parse_sse(await again.text())
    assert chunks[-1] == {"type": "finish", "finishReason": "stop"}
    never.set()


async def test_silence_before_any_output_is_retried_like_a_5xx(
    tmp_path: Path, upstream: FakeUpstream, aiohttp_client: Any
) -> None:
    client = await ops_client(tmp_path, upstream.url, aiohttp_client, {"hangs": IDLE})
    never = asyncio.Event()
    upstream.enqueue(
        Reply.from_case("anthropic", "text_basic", hold_after_events=0, release=never),  # headers, then nothing
        Reply.from_case("anthropic", "text_basic"),
    )
    response = await client.post("/api/ai/chat/b1?preset=hangs", json={"messages": [user_message("hi")]})
    chunks, _, done = parse_sse(await response.text())
    assert done and not [chunk for chunk in chunks if chunk["type"] == "error"]
    assert chunks[-1] == {"type": "finish", "finishReason": "stop"}
    assert len(upstream.requests) == 2
    never.set()  # lets the fake upstream finish its handler (its shutdown waits for it)


async def test_the_total_deadline_ends_a_slow_answer(
    tmp_path: Path, upstream: FakeUpstream, aiohttp_client: Any
) -> None:
    timeouts = "[timeouts]\nidle_seconds = 5\ntotal_seconds = 0.5\n"
    client = await ops_client(tmp_path, upstream.url, aiohttp_client, {"slow": timeouts})
    never = asyncio.Event()
    upstream.enqueue(Reply.from_case("anthropic", "text_basic", hold_after_events=5, release=never))
    response = await client.post("/api/ai/chat/b1?preset=slow", json={"messages": [user_message("hi")]})
    chunks, _, done = parse_sse(await response.text())
    errors = [chunk["errorText"] for chunk in chunks if chunk["type"] == "error"]
    assert done and len(errors) == 1 and "total time limit" in errors[0]
    never.set()  # lets the fake upstream finish its handler (its shutdown waits for it)
