"""fetch_url through the real chat endpoint: an allowed name that resolves to loopback is refused
(issue 11 item 8); with ``fetch_allow_private = true`` the same call goes through."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from backend.app import create_app
from tests.conftest import make_settings, write_preset
from tests.sse import parse_sse
from tests.upstream import FakeUpstream, Reply
from tests.web.test_chat_endpoint import user_message


@pytest.fixture
async def secret_site() -> AsyncIterator[tuple[TestServer, list[str]]]:
    hits: list[str] = []

    async def secret(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.Response(text="internal secret", content_type="text/plain")

    app = web.Application()
    app.router.add_get("/secret", secret)
    async with TestServer(app, host="127.0.0.1") as server:
        yield server, hits


def fetch_call(url: str) -> Reply:
    """The recorded-shape current_time call, turned into a fetch_url call of ``url``."""
    reply = Reply.from_case("anthropic", "composed_current_time_call")
    body = reply.body.replace(b'"name":"current_time"', b'"name":"fetch_url"')
    body = body.replace(b'{\\"timezone\\": ', b'{\\"url\\": ').replace(b"Europe/Paris", url.encode())
    assert body.count(b"fetch_url") == 1 and url.encode() in body
    return dataclasses.replace(reply, body=body)


async def run_fetch(
    tmp_path: Path, upstream: FakeUpstream, aiohttp_client: Callable[..., Any], url: str, allow_private: bool
) -> str:
    presets_dir = tmp_path / "presets"
    presets_dir.mkdir(exist_ok=True)
    write_preset(
        presets_dir,
        "default",
        f"""
        provider = "anthropic"
        model = "claude-sonnet-5-5"
        base_url = "{upstream.url}/unused"
        api_key_env = "TEST_ANTHROPIC_KEY"
        tools = ["fetch_url"]
        max_steps = 3

        [tool_options]
        fetch_allowed_hosts = ["localhost"]
        fetch_allow_private = {str(allow_private).lower()}
        """,
    )
    upstream.enqueue(fetch_call(url), Reply.from_case("anthropic", "composed_current_time_call_followup"))
    client = await aiohttp_client(create_app(make_settings(tmp_path, presets_dir)))
    response = await client.post("/api/ai/chat/b1", json={"messages": [user_message("fetch it")]})
    assert response.status == 200
    assert parse_sse(await response.text())[2]  # [DONE]
    tool_result = upstream.requests[1].json()["messages"][-1]["content"][0]
    assert tool_result["type"] == "tool_result"
    return str(tool_result["content"])


async def test_fetch_url_refuses_a_name_resolving_to_loopback(
    tmp_path: Path,
    upstream: FakeUpstream,
    aiohttp_client: Callable[..., Any],
    secret_site: tuple[TestServer, list[str]],
) -> None:
    server, hits = secret_site
    url = f"http://localhost:{server.port}/secret"
    result = await run_fetch(tmp_path, upstream, aiohttp_client, url, allow_private=False)
    assert "loopback, private, link-local or metadata address" in result
    assert hits == []  # never connected


async def test_fetch_allow_private_lets_the_preset_reach_the_lan(
    tmp_path: Path,
    upstream: FakeUpstream,
    aiohttp_client: Callable[..., Any],
    secret_site: tuple[TestServer, list[str]],
) -> None:
    server, hits = secret_site
    url = f"http://localhost:{server.port}/secret"
    result = await run_fetch(tmp_path, upstream, aiohttp_client, url, allow_private=True)
    assert "internal secret" in result and hits == ["/secret"]
