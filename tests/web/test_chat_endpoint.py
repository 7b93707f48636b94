"""The chat endpoint end to end in-process: real anthropic SDK → fake upstream → our SSE."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from tests.conftest import TEST_KEY
from tests.sse import parse_sse, types_of
from tests.upstream import FakeUpstream


def user_message(text: str, message_id: str = "u1") -> dict[str, Any]:
    return {"id": message_id, "role": "user", "parts": [{"type": "text", "text": text}]}


async def post_chat(client: TestClient[Any, Any], body: dict[str, Any], query: str = "") -> tuple[int, str, Any]:
    response = await client.post(f"/api/ai/chat/block-1{query}", json=body)
    return response.status, await response.text(), response.headers


async def test_text_stream_has_protocol_headers_and_sequence(chat_client: TestClient[Any, Any]) -> None:
    status, text, headers = await post_chat(
        chat_client, {"id": "c1", "messages": [user_message("hi")], "trigger": "submit-message"}
    )
    assert status == 200
    assert headers["Content-Type"] == "text/event-stream"
    assert headers["X-Vercel-AI-UI-Message-Stream"] == "v1"
    assert headers["X-Accel-Buffering"] == "no"
    assert "no-cache" in headers["Cache-Control"]
    chunks, _, done = parse_sse(text)
    assert done
    kinds = types_of(chunks)
    assert kinds[0] == "start" and kinds[1] == "start-step"
    assert kinds[-3:] == ["finish-step", "message-metadata", "finish"]
    start = chunks[0]
    assert start["messageMetadata"]["preset"] == "default"
    assert start["messageMetadata"]["provider"] == "anthropic"
    assert start["messageMetadata"]["model"] == "claude-sonnet-5-5"
    text_out = "".join(chunk["delta"] for chunk in chunks if chunk["type"] == "text-delta")
    assert text_out.startswith("Olá!")
    usage = chunks[-2]["messageMetadata"]["usage"]
    assert usage["inputTokens"] == 16 and usage["outputTokens"] == 38
    assert chunks[-1] == {"type": "finish", "finishReason": "stop"}


async def test_saved_conversation_matches_streamed_message(chat_client: TestClient[Any, Any]) -> None:
    status, text, _ = await post_chat(chat_client, {"messages": [user_message("hi")]}, "?preset=anthropic-text")
    assert status == 200
    chunks, _, _ = parse_sse(text)
    message_id = chunks[0]["messageId"]
    saved = await (await chat_client.get("/api/ai/conversations/block-1")).json()
    assert [m["role"] for m in saved["messages"]] == ["user", "assistant"]
    assistant = saved["messages"][1]
    assert assistant["id"] == message_id
    assert assistant["metadata"]["preset"] == "anthropic-text"
    assert [p["type"] for p in assistant["parts"]] == ["step-start", "text"]
    assert assistant["parts"][1]["state"] == "done"


async def test_unknown_preset_is_400_listing_presets(chat_client: TestClient[Any, Any]) -> None:
    status, text, _ = await post_chat(chat_client, {"messages": [user_message("hi")]}, "?preset=nope")
    assert status == 400
    assert "nope" in text and "anthropic-text" in text and "url" in text


async def test_bad_json_and_missing_messages_are_400(chat_client: TestClient[Any, Any]) -> None:
    response = await chat_client.post(
        "/api/ai/chat/block-1", data=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status == 400
    assert (await response.json())["error"]["code"] == "invalid_json"
    response = await chat_client.post("/api/ai/chat/block-1", json={"id": "x"})
    assert response.status == 400
    assert "messages" in (await response.json())["error"]["message"]
    response = await chat_client.post(
        "/api/ai/chat/block-1", json={"messages": [{"id": "m", "role": "user", "parts": [{"type": "text"}]}]}
    )
    body = await response.json()
    assert response.status == 400 and "messages[0].parts[0].text" in body["error"]["message"]


async def test_invalid_block_id_is_400(chat_client: TestClient[Any, Any]) -> None:
    response = await chat_client.post("/api/ai/chat/bad%20id!", json={"messages": [user_message("hi")]})
    assert response.status == 400
    assert (await response.json())["error"]["code"] == "invalid_block_id"


async def test_auth_error_becomes_error_chunk_without_key(
    chat_client: TestClient[Any, Any], upstream: FakeUpstream
) -> None:
    status, text, _ = await post_chat(chat_client, {"messages": [user_message("hi")]}, "?preset=anthropic-auth")
    assert status == 200
    chunks, _, done = parse_sse(text)
    error = next(chunk for chunk in chunks if chunk["type"] == "error")
    assert "anthropic" in error["errorText"] and "authentication" in error["errorText"]
    assert TEST_KEY not in text
    assert chunks[-1] == {"type": "finish", "finishReason": "error"}
    assert done
    assert len(upstream.requests) == 1  # auth errors are not retried


async def test_rate_limit_is_retried_then_reported(chat_client: TestClient[Any, Any], upstream: FakeUpstream) -> None:
    _, text, _ = await post_chat(chat_client, {"messages": [user_message("hi")]}, "?preset=anthropic-429")
    chunks, _, _ = parse_sse(text)
    assert len(upstream.requests) == 3  # the default policy: 3 attempts before the first token
    data_error = next(chunk for chunk in chunks if chunk["type"] == "data-error")
    assert data_error["transient"] is True
    assert data_error["data"]["category"] == "rate_limited"
    assert data_error["data"]["retryAfterSeconds"] == 2


async def test_midstream_overload_closes_text_then_errors(chat_client: TestClient[Any, Any]) -> None:
    _, text, _ = await post_chat(chat_client, {"messages": [user_message("hi")]}, "?preset=anthropic-overloaded")
    chunks, _, done = parse_sse(text)
    kinds = types_of(chunks)
    error_index = kinds.index("error")
    assert "text-end" in kinds[:error_index]
    assert kinds.index("text-delta") < kinds.index("text-end")
    assert "overloaded" in chunks[error_index]["errorText"]
    assert done
