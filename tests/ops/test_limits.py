"""Limits before an answer starts: 503 past --max-streams, 429 per client and per preset, each with
Retry-After and a JSON error, and nothing streamed."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from backend.users import IMPLICIT_USER
from tests.ops.helpers import ops_client, user_message
from tests.sse import parse_sse
from tests.upstream import FakeUpstream, Reply


async def test_past_max_streams_a_new_chat_gets_503_with_retry_after(
    tmp_path: Path, upstream: FakeUpstream, aiohttp_client: Any
) -> None:
    client = await ops_client(tmp_path, upstream.url, aiohttp_client, max_streams=1)
    release = asyncio.Event()
    upstream.enqueue(Reply.from_case("anthropic", "text_basic", hold_after_events=5, release=release))
    first = asyncio.create_task(client.post("/api/ai/chat/b1", json={"messages": [user_message("hi")]}))
    await asyncio.wait_for(upstream.stream_started.wait(), 10)
    refused = await client.post("/api/ai/chat/b2", json={"messages": [user_message("hi")]})
    assert refused.status == 503
    assert refused.headers["Retry-After"] == "1"
    assert (await refused.json())["error"]["code"] == "too_many_streams"
    release.set()
    response = await first
    assert parse_sse(await response.text())[2]
    # Once the first answer is over, there is room again.
    again = await client.post("/api/ai/chat/b2", json={"messages": [user_message("hi")]})
    assert again.status == 200
    await again.text()


async def test_a_client_over_its_requests_per_minute_gets_429(
    tmp_path: Path, upstream: FakeUpstream, aiohttp_client: Any
) -> None:
    client = await ops_client(tmp_path, upstream.url, aiohttp_client, client_requests_per_minute=2)
    for block in ("b1", "b2"):
        response = await client.post(f"/api/ai/chat/{block}", json={"messages": [user_message("hi")]})
        assert response.status == 200
        await response.text()
    refused = await client.post("/api/ai/chat/b3", json={"messages": [user_message("hi")]})
    assert refused.status == 429
    retry_after = int(refused.headers["Retry-After"])
    assert 1 <= retry_after <= 60
    error = (await refused.json())["error"]
    assert error["code"] == "rate_limited" and error["retryAfterSeconds"] == retry_after
    assert "client requests per minute" in error["message"]
    # Another client (another key) is not affected.
    other = await client.post(
        "/api/ai/chat/b4", json={"messages": [user_message("hi")]}, headers={"Authorization": "Bearer other-client"}
    )
    assert other.status == 200
    await other.text()
    assert len(upstream.requests) == 3  # the refused request never reached the provider


async def test_a_presets_request_budget(tmp_path: Path, upstream: FakeUpstream, aiohttp_client: Any) -> None:
    client = await ops_client(tmp_path, upstream.url, aiohttp_client, {"budgeted": "requests_per_minute = 1"})
    first = await client.post("/api/ai/chat/b1?preset=budgeted", json={"messages": [user_message("hi")]})
    assert first.status == 200
    await first.text()
    refused = await client.post("/api/ai/chat/b2?preset=budgeted", json={"messages": [user_message("hi")]})
    assert refused.status == 429 and "Retry-After" in refused.headers
    assert "requests per minute of preset 'budgeted'" in (await refused.json())["error"]["message"]
    # Other presets have their own budget (none here).
    other = await client.post("/api/ai/chat/b3", json={"messages": [user_message("hi")]})
    assert other.status == 200
    await other.text()


async def test_a_presets_token_budget_is_charged_and_corrected(
    tmp_path: Path, upstream: FakeUpstream, aiohttp_client: Any
) -> None:
    # text_basic reports 24 input + 30 output tokens (its recorded usage). A budget of 100 takes
    # one answer (corrected from the estimate to 54), then refuses a long prompt estimated at 60.
    client = await ops_client(tmp_path, upstream.url, aiohttp_client, {"metered": "tokens_per_minute = 100"})
    first = await client.post("/api/ai/chat/b1?preset=metered", json={"messages": [user_message("hi")]})
    assert first.status == 200
    chunks, _, _ = parse_sse(await first.text())
    usage = next(chunk for chunk in chunks if chunk["type"] == "message-metadata")["messageMetadata"]["usage"]
    used = usage["inputTokens"] + usage["outputTokens"]
    assert 0 < used < 100
    long_prompt = "x" * 4 * (100 - used + 5)  # estimated at more than what is left
    refused = await client.post("/api/ai/chat/b2?preset=metered", json={"messages": [user_message(long_prompt)]})
    assert refused.status == 429
    assert "tokens per minute of preset 'metered'" in (await refused.json())["error"]["message"]
    short = await client.post("/api/ai/chat/b3?preset=metered", json={"messages": [user_message("ok")]})
    assert short.status == 200  # what is left still takes a short prompt
    await short.text()


async def test_limits_on_redis_are_shared_between_workers(redis_url: str) -> None:
    from backend.chat.rate_limits import LimitSettings, RateLimits
    from backend.errors import RequestError
    from backend.presets import Preset, PresetFile

    preset = Preset("shared", Path("shared.toml"), PresetFile(provider="anthropic", model="m", requests_per_minute=2))
    worker_a, worker_b = (RateLimits(LimitSettings(storage_uri=redis_url)) for _ in range(2))
    await worker_a.check_request(None, preset, IMPLICIT_USER)
    await worker_b.check_request(None, preset, IMPLICIT_USER)
    try:
        await worker_a.check_request(None, preset, IMPLICIT_USER)
    except RequestError as error:
        assert error.code == "rate_limited" and error.details["retryAfterSeconds"] >= 1
    else:
        raise AssertionError("the third request of the minute, on either worker, is over the preset's budget")
