"""Each user's chats are their own (issue 19), on SQLite and on PostgreSQL + Redis alike.

Another user's block answers exactly what a block that never existed answers: the block ids of
each user are their own namespace, so nothing shows that the other block exists.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from tests.sse import parse_sse, types_of
from tests.upstream import FakeUpstream, Reply
from tests.users.conftest import Shared, auth
from tests.web.test_chat_endpoint import user_message
from tests.web.test_tools_endpoint import answered


async def chat(shared: Shared, name: str, block: str, text: str = "hi", preset: str | None = None) -> str:
    query = f"?preset={preset}" if preset else ""
    response = await shared.call(
        name, "POST", f"/api/ai/chat/{block}{query}", json={"id": "chat-1", "messages": [user_message(text)]}
    )
    assert response.status == 200, await response.text()
    return str(await response.text())


async def json_of(shared: Shared, name: str, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
    response = await shared.call(name, method, path, **kwargs)
    return response.status, await response.json()


async def test_conversations_meta_and_settings_are_the_users(shared: Shared) -> None:
    await chat(shared, "alice", "b1", "alice's secret question")
    assert (await json_of(shared, "alice", "PATCH", "/api/blocks/b1/meta", json={"ai:preset": "anthropic-text"}))[
        0
    ] == 200
    assert (await json_of(shared, "alice", "PATCH", "/api/settings", json={"ui:theme": "dark"}))[0] == 200
    status, mine = await json_of(shared, "alice", "GET", "/api/ai/conversations/b1")
    assert status == 200 and mine["version"] >= 1 and "alice's secret question" in str(mine["messages"])

    # Bob: alice's block b1 answers exactly as his never-created block "never" does.
    never = await json_of(shared, "bob", "GET", "/api/ai/conversations/never")
    theirs = await json_of(shared, "bob", "GET", "/api/ai/conversations/b1")
    assert theirs == (never[0], {**never[1], "blockId": "b1"}) == (200, {"blockId": "b1", "messages": [], "version": 0})
    assert await json_of(shared, "bob", "GET", "/api/ai/conversations") == (
        200,
        {"conversations": [], "total": 0, "limit": 50, "offset": 0},
    )
    assert await json_of(shared, "bob", "GET", "/api/blocks/b1/meta") == (200, {})
    assert await json_of(shared, "bob", "GET", "/api/settings") == (200, {})
    status, preview = await json_of(shared, "bob", "GET", "/api/ai/resolve/b1")
    assert preview["preset"] == "default" and preview["resolvedFrom"]["preset"] == "default"  # not alice's block
    assert await json_of(shared, "bob", "DELETE", "/api/ai/conversations/b1") == (
        200,
        {"blockId": "b1", "deleted": False},
    )
    # Bob's writes land in his own namespace: a first save (If-Match 0) of "his" b1 succeeds.
    saved = await json_of(
        shared,
        "bob",
        "POST",
        "/api/ai/conversations/b1",
        json={"messages": [user_message("bob")]},
        headers={"If-Match": '"0"'},
    )
    assert saved == (200, {"blockId": "b1", "version": 1})
    assert (await json_of(shared, "bob", "PATCH", "/api/blocks/b1/meta", json={"ai:preset": None, "x": 1}))[1] == {
        "x": 1
    }
    assert (await json_of(shared, "bob", "PUT", "/api/settings", json={"ui:theme": "light"}))[1] == {
        "ui:theme": "light"
    }

    # Alice's things are untouched by all of that.
    status, still = await json_of(shared, "alice", "GET", "/api/ai/conversations/b1")
    assert still["version"] == mine["version"] and "alice's secret question" in str(still["messages"])
    assert await json_of(shared, "alice", "GET", "/api/blocks/b1/meta") == (200, {"ai:preset": "anthropic-text"})
    assert await json_of(shared, "alice", "GET", "/api/settings") == (200, {"ui:theme": "dark"})
    status, listed = await json_of(shared, "alice", "GET", "/api/ai/conversations")
    assert [item["blockId"] for item in listed["conversations"]] == ["b1"] and listed["total"] == 1
    # Alice's own delete works; bob's conversation stays.
    assert (await json_of(shared, "alice", "DELETE", "/api/ai/conversations/b1"))[1]["deleted"] is True
    assert (await json_of(shared, "bob", "GET", "/api/ai/conversations/b1"))[1]["version"] == 1


async def test_live_streams_are_the_users(shared: Shared, upstream: FakeUpstream) -> None:
    release = asyncio.Event()
    upstream.enqueue(Reply.from_case("anthropic", "text_basic", hold_after_events=5, release=release))
    alice = asyncio.create_task(chat(shared, "alice", "b1"))
    await asyncio.wait_for(upstream.stream_started.wait(), 10)

    # Bob can neither resume nor stop alice's answer: for him there is none.
    assert (await shared.call("bob", "GET", "/api/ai/chat/b1/chat-1/stream")).status == 204
    assert await json_of(shared, "bob", "POST", "/api/ai/chat/b1/stop") == (200, {"stopped": False, "blockId": "b1"})
    # His b1 is his own: he chats in it while alice's answer is still live (no 409).
    bob_answer = parse_sse(await chat(shared, "bob", "b1", "bob here"))[0]
    assert types_of(bob_answer)[-1] == "finish"

    resumed = await shared.call("alice", "GET", "/api/ai/chat/b1/chat-1/stream")
    assert resumed.status == 200
    status, stopped = await json_of(shared, "alice", "POST", "/api/ai/chat/b1/stop")
    assert status == 200 and stopped["stopped"] is True
    chunks, _, done = parse_sse(await alice)
    assert done and chunks[-1] == {"type": "finish", "finishReason": "interrupted"}
    await resumed.text()
    release.set()
    # Each saved their own answer in their own b1.
    alice_saved = (await json_of(shared, "alice", "GET", "/api/ai/conversations/b1"))[1]["messages"]
    bob_saved = (await json_of(shared, "bob", "GET", "/api/ai/conversations/b1"))[1]["messages"]
    assert alice_saved[-1]["id"] == stopped["messageId"] and bob_saved[0]["parts"][0]["text"] == "bob here"


async def test_approvals_are_the_users(shared: Shared, upstream: FakeUpstream) -> None:
    chunks = parse_sse(await chat(shared, "alice", "b1", "time?", preset="clock-approval"))[0]
    assert chunks[-1]["finishReason"] == "tool-calls"
    history = (await json_of(shared, "alice", "GET", "/api/ai/conversations/b1"))[1]["messages"]
    assistant = history[-1]
    body = {"messages": [*history[:-1], answered(assistant, True)], "messageId": assistant["id"]}

    # Bob replays alice's approval (its id, its tool call) in his own b1: it is not his, so not run.
    response = await shared.call("bob", "POST", "/api/ai/chat/b1?preset=clock-approval", json=body)
    bob_chunks = parse_sse(await response.text())[0]
    assert types_of(bob_chunks)[1] == "tool-output-error"
    assert "not run" in str(upstream.requests[-1].json()["messages"][-1]["content"][0]["content"])

    # Alice's approval was not used up: she approves it and the tool runs.
    response = await shared.call("alice", "POST", "/api/ai/chat/b1?preset=clock-approval", json=body)
    alice_chunks = parse_sse(await response.text())[0]
    assert types_of(alice_chunks)[1] == "tool-output-available"


async def test_admin_lists_users_and_usage_but_reads_no_conversation(shared: Shared) -> None:
    await chat(shared, "alice", "b1", "alice's private words")
    status, listing = await json_of(shared, "root", "GET", "/api/admin/users")
    assert status == 200
    users = {row["name"]: row for row in listing["users"]}
    assert set(users) == {"alice", "bob", "root", "carol", "dave"}
    assert users["alice"]["usage"]["conversations"] == 1 and users["alice"]["usage"]["outputTokens"] > 0
    assert users["root"]["role"] == "admin" and users["bob"]["presets"] == ["clock-approval", "default"]
    text = str(listing)
    assert "private words" not in text and "cw_" not in text and "token_sha256" not in text
    # The admin's normal API is the admin's own: alice's block is not there.
    assert (await json_of(shared, "root", "GET", "/api/ai/conversations"))[1]["total"] == 0
    assert (await json_of(shared, "root", "GET", "/api/ai/conversations/b1"))[1]["version"] == 0
    # Not for users.
    status, refused = await json_of(shared, "alice", "GET", "/api/admin/users")
    assert status == 403 and refused["error"]["code"] == "admin_only"
    # /metrics on a shared server: admins only; per-user totals because --metrics-per-user is set.
    assert (await shared.call("alice", "GET", "/metrics")).status == 403
    metrics = await (await shared.call("root", "GET", "/metrics")).text()
    assert 'chatwire_user_tokens_total{kind="output",user="alice"}' in metrics


async def test_allowlists_answer_403_naming_the_preset_and_its_layer(shared: Shared) -> None:
    status, body = await json_of(
        shared, "bob", "POST", "/api/ai/chat/b1?preset=anthropic-text", json={"messages": [user_message("hi")]}
    )
    assert status == 403 and body["error"]["code"] == "preset_not_allowed"
    assert body["error"]["preset"] == "anthropic-text" and body["error"]["layer"] == "url"
    assert "anthropic-text" in body["error"]["message"]
    # Chosen by his settings (the global layer): the provenance names that layer.
    await json_of(shared, "bob", "PATCH", "/api/settings", json={"ai:preset": "anthropic-thinking"})
    status, body = await json_of(shared, "bob", "POST", "/api/ai/chat/b2", json={"messages": [user_message("hi")]})
    assert status == 403 and body["error"]["layer"] == "global" and body["error"]["preset"] == "anthropic-thinking"
    status, preview = await json_of(shared, "bob", "GET", "/api/ai/resolve/b2")
    assert preview["allowed"] is False and preview["resolvedFrom"]["preset"] == "global"
    # The presets he is shown are those he may use, on /api and /v1 alike.
    presets = (await json_of(shared, "bob", "GET", "/api/ai/presets"))[1]["presets"]
    assert sorted(preset["name"] for preset in presets) == ["clock-approval", "default"]
    models = (await json_of(shared, "bob", "GET", "/v1/models"))[1]["data"]
    assert sorted(model["id"] for model in models) == ["clock-approval", "default"]
    status, body = await json_of(
        shared,
        "bob",
        "POST",
        "/v1/chat/completions",
        json={"model": "anthropic-text", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert status == 403 and "anthropic-text" in str(body)
    # Alice has no allowlist.
    assert (await shared.call("alice", "GET", "/api/ai/resolve/b1?preset=anthropic-text")).status == 200


async def test_per_user_budgets_answer_429_with_retry_after(shared: Shared) -> None:
    # carol: 5 tokens per minute. One answer may spend the whole budget (it is charged at most the
    # budget up front); its real count, corrected at its end, leaves nothing for the next.
    await chat(shared, "carol", "b1", "word " * 40)
    response = await shared.call("carol", "POST", "/api/ai/chat/b2", json={"messages": [user_message("more")]})
    body = await response.json()
    assert response.status == 429 and int(response.headers["Retry-After"]) >= 1
    assert "tokens per minute of user 'carol'" in body["error"]["message"]
    # dave: 2 requests per minute.
    await chat(shared, "dave", "b2", "one")
    await chat(shared, "dave", "b3", "two")
    response = await shared.call("dave", "POST", "/api/ai/chat/b4", json={"messages": [user_message("three")]})
    assert response.status == 429 and "Retry-After" in response.headers
    assert "requests per minute of user 'dave'" in (await response.json())["error"]["message"]
    # The same budgets hold on the compatible API.
    response = await shared.call(
        "dave",
        "POST",
        "/v1/chat/completions",
        json={"model": "default", "messages": [{"role": "user", "content": "x"}]},
    )
    assert response.status == 429 and "Retry-After".lower() in {name.lower() for name in response.headers}
    # Others are not affected.
    await chat(shared, "alice", "b4", "fine")


async def test_v1_answers_as_the_user_of_its_key(shared: Shared) -> None:
    request = {"model": "default", "messages": [{"role": "user", "content": "hi"}]}
    response = await shared.client.post(
        "/v1/chat/completions", json=request, headers={"x-api-key": "cw_wrong-key-0123456789"}
    )
    assert response.status == 401
    response = await shared.client.post(
        "/v1/messages",
        json={"model": "default", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]},
        headers={"x-api-key": "cw_ALICE"},
    )
    assert response.status == 401
    response = await shared.call("alice", "POST", "/v1/chat/completions", json=request)
    assert response.status == 200 and (await response.json())["choices"][0]["message"]["content"]
    metrics = await (await shared.call("root", "GET", "/metrics")).text()
    assert 'chatwire_user_tokens_total{kind="input",user="alice"}' in metrics
    assert 'user="bob"' not in metrics


async def test_the_chat_socket_is_the_users(shared: Shared, upstream: FakeUpstream) -> None:
    """Over the WebSocket transport too: bob can neither resume nor abort alice's live answer."""
    release = asyncio.Event()
    upstream.enqueue(Reply.from_case("anthropic", "text_basic", hold_after_events=5, release=release))
    alice = asyncio.create_task(chat(shared, "alice", "b1"))
    await asyncio.wait_for(upstream.stream_started.wait(), 10)
    async with shared.client.ws_connect("/api/ai/chat/b1", headers=auth("bob")) as bob:
        await bob.send_json({"type": "resume", "requestId": "r1", "id": "chat-1", "headers": {}, "body": {}})
        assert json.loads((await asyncio.wait_for(bob.receive(), 10)).data) == {"type": "no-active", "requestId": "r1"}
    async with shared.client.ws_connect("/api/ai/chat/b1", headers=auth("alice")) as own:
        await own.send_json({"type": "resume", "requestId": "r2", "id": "chat-1", "headers": {}, "body": {}})
        assert json.loads((await asyncio.wait_for(own.receive(), 10)).data) == {"type": "start", "requestId": "r2"}
    release.set()
    chunks, _, done = parse_sse(await alice)
    assert done and chunks[-1] == {"type": "finish", "finishReason": "stop"}  # bob's socket changed nothing
