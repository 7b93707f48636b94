"""No response of any endpoint, and no log line, contains an API key value."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.conftest import TEST_KEY
from tests.upstream import FakeUpstream, Reply
from tests.web.test_chat_endpoint import user_message


async def test_no_endpoint_or_log_reveals_the_key(
    chat_client: TestClient[Any, Any], upstream: FakeUpstream, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    # An upstream that echoes the key back in its error message (some proxies do).
    echo = json.dumps(
        {"type": "error", "error": {"type": "authentication_error", "message": f"invalid x-api-key: {TEST_KEY}"}}
    )
    upstream.enqueue(Reply(status=401, headers={"content-type": "application/json"}, body=echo.encode()))
    bodies: list[str] = []

    async def call(method: str, path: str, **kwargs: Any) -> None:
        response = await chat_client.request(method, path, **kwargs)
        bodies.append(await response.text())
        bodies.append(json.dumps(dict(response.headers)))

    await call("POST", "/api/ai/chat/b1", json={"messages": [user_message("hi")]})
    await call("POST", "/api/ai/chat/b1?preset=anthropic-429", json={"messages": [user_message("hi")]})
    await call("POST", "/api/ai/chat/b1?preset=anthropic-text", json={"messages": [user_message("hi")]})
    await call("POST", "/api/ai/chat/b1", json={"messages": [user_message("hi")], "options": {"apiKey": "x"}})
    await call("POST", "/api/ai/chat/b1?preset=missing", json={"messages": [user_message("hi")]})
    await call("GET", "/api/ai/chat/b1/b1/stream")
    await call("POST", "/api/ai/chat/b1/stop")
    await call("GET", "/api/ai/presets")
    await call("GET", "/api/ai/resolve/b1")
    await call("GET", "/api/ai/resolve/b1?preset=anthropic-auth")
    await call("GET", "/api/ai/conversations")
    await call("GET", "/api/ai/conversations/b1")
    await call("GET", "/api/blocks/b1/meta")
    await call("PATCH", "/api/settings", json={"ai:preset": "anthropic-text"})
    await call("GET", "/api/settings")
    await call("GET", "/health")
    await call("GET", "/")
    everything = "\n".join(bodies)
    assert "invalid x-api-key" in everything  # the provider's message got through ...
    assert TEST_KEY not in everything  # ... without the key
    assert TEST_KEY not in caplog.text
    assert "TEST_ANTHROPIC_KEY" not in everything  # not even the variable's name
