"""Conversation persistence endpoints: exact round trip, versions/ETags, listing, validation, limits."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from backend.app import create_app
from tests.conftest import make_settings, write_fixture_presets
from tests.upstream import FakeUpstream

MESSAGES: list[dict[str, Any]] = [
    {"parts": [{"type": "text", "text": "Hello there, a fairly long first question"}], "id": "u1", "role": "user"},
    {
        "id": "a1",
        "role": "assistant",
        "metadata": {"preset": "p", "model": "m", "usage": {"inputTokens": 10, "outputTokens": 4}},
        "parts": [
            {"type": "step-start"},
            {"type": "text", "text": "Hi!", "state": "done"},
            {"type": "data-custom", "data": {"kept": True}},
        ],
    },
]


async def test_round_trip_is_exact_and_versioned(chat_client: TestClient[Any, Any]) -> None:
    response = await chat_client.post("/api/ai/conversations/b1", json={"messages": MESSAGES})
    assert response.status == 200 and response.headers["ETag"] == '"1"'
    response = await chat_client.get("/api/ai/conversations/b1")
    body = await response.json()
    assert body["messages"] == MESSAGES and body["version"] == 1
    assert response.headers["ETag"] == '"1"'
    # Key order and unknown keys survive: the stored JSON is the client's JSON.
    assert '"parts":[{"type":"text"' in await response.text()


async def test_stale_if_match_is_409_with_current_version(chat_client: TestClient[Any, Any]) -> None:
    await chat_client.post("/api/ai/conversations/b1", json={"messages": MESSAGES})
    await chat_client.post("/api/ai/conversations/b1", json={"messages": MESSAGES}, headers={"If-Match": '"1"'})
    response = await chat_client.post(
        "/api/ai/conversations/b1", json={"messages": MESSAGES[:1]}, headers={"If-Match": '"1"'}
    )
    assert response.status == 409
    assert (await response.json())["error"]["currentVersion"] == 2
    assert len((await (await chat_client.get("/api/ai/conversations/b1")).json())["messages"]) == 2
    response = await chat_client.post(
        "/api/ai/conversations/new", json={"messages": MESSAGES}, headers={"If-Match": '"0"'}
    )
    assert response.status == 200  # "0" = must not exist yet


async def test_list_is_paged_with_summaries(chat_client: TestClient[Any, Any]) -> None:
    for index in range(3):
        await chat_client.post(f"/api/ai/conversations/b{index}", json={"messages": MESSAGES})
    page = await (await chat_client.get("/api/ai/conversations?limit=2&offset=0")).json()
    assert page["total"] == 3 and len(page["conversations"]) == 2
    item = page["conversations"][0]
    assert item["title"] == "Hello there, a fairly long first question"
    assert item["preset"] == "p" and item["model"] == "m" and item["messageCount"] == 2
    assert item["usage"] == {"inputTokens": 10, "outputTokens": 4, "totalTokens": 14}
    page2 = await (await chat_client.get("/api/ai/conversations?limit=2&offset=2")).json()
    assert len(page2["conversations"]) == 1
    assert (await chat_client.get("/api/ai/conversations?limit=abc")).status == 400


async def test_delete(chat_client: TestClient[Any, Any]) -> None:
    await chat_client.post("/api/ai/conversations/b1", json={"messages": MESSAGES})
    assert (await (await chat_client.delete("/api/ai/conversations/b1")).json())["deleted"] is True
    assert (await (await chat_client.get("/api/ai/conversations/b1")).json())["messages"] == []


async def test_malformed_message_names_index_and_field(chat_client: TestClient[Any, Any]) -> None:
    bad = [MESSAGES[0], {"id": "a", "role": "robot", "parts": []}]
    response = await chat_client.post("/api/ai/conversations/b1", json={"messages": bad})
    body = await response.json()
    assert response.status == 400
    assert "messages[1]" in body["error"]["message"] and "role" in body["error"]["message"]
    response = await chat_client.post("/api/ai/conversations/b1", json={"nope": []})
    assert response.status == 400


async def test_body_over_limit_is_413(tmp_path: Path, upstream: FakeUpstream, aiohttp_client: Any) -> None:
    write_fixture_presets(tmp_path / "presets", upstream.url)
    client = await aiohttp_client(create_app(make_settings(tmp_path, tmp_path / "presets", max_body_bytes=1024)))
    big = {"messages": [{"id": "u", "role": "user", "parts": [{"type": "text", "text": "x" * 4096}]}]}
    for path in ("/api/ai/conversations/b1", "/api/ai/chat/b1"):
        response = await client.post(path, json=big)
        assert response.status == 413
        assert (await response.json())["error"]["code"] == "body_too_large"


async def test_concurrent_saves_to_different_blocks_all_land(chat_client: TestClient[Any, Any]) -> None:
    results = await asyncio.gather(
        *[chat_client.post(f"/api/ai/conversations/c{index}", json={"messages": MESSAGES}) for index in range(50)]
    )
    assert all(response.status == 200 for response in results)
    page = await (await chat_client.get("/api/ai/conversations?limit=100")).json()
    assert page["total"] == 50
