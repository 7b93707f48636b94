"""Presets, resolution preview, block metadata and settings endpoints; layers in real chats."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from backend.web.app_keys import PRESETS
from tests.conftest import TEST_KEY, write_preset
from tests.sse import parse_sse
from tests.web.test_chat_endpoint import user_message


async def test_presets_list_has_no_secrets(chat_client: TestClient[Any, Any]) -> None:
    response = await chat_client.get("/api/ai/presets")
    text = await response.text()
    presets = {item["name"]: item for item in (await response.json())["presets"]}
    assert presets["anthropic-text"]["provider"] == "anthropic"
    assert presets["anthropic-text"]["apiKeyPresent"] is True
    assert TEST_KEY not in text and "TEST_ANTHROPIC_KEY" not in text


async def test_block_meta_put_patch_delete_key(chat_client: TestClient[Any, Any]) -> None:
    assert await (await chat_client.get("/api/blocks/b1/meta")).json() == {}
    response = await chat_client.put("/api/blocks/b1/meta", json={"ai:preset": "anthropic-thinking", "title": "x"})
    assert response.status == 200
    response = await chat_client.patch("/api/blocks/b1/meta", json={"title": None, "color": "blue"})
    assert await response.json() == {"ai:preset": "anthropic-thinking", "color": "blue"}
    assert await (await chat_client.get("/api/blocks/b1/meta")).json() == {
        "ai:preset": "anthropic-thinking",
        "color": "blue",
    }


async def test_meta_rejects_unknown_preset_and_forbidden_fields(chat_client: TestClient[Any, Any]) -> None:
    response = await chat_client.patch("/api/blocks/b1/meta", json={"ai:preset": "nope"})
    assert response.status == 400 and "nope" in (await response.json())["error"]["message"]
    response = await chat_client.patch("/api/settings", json={"ai:baseUrl": "https://evil.example"})
    assert response.status == 400
    response = await chat_client.put("/api/settings", json=[1, 2])
    assert response.status == 400
    response = await chat_client.get("/api/blocks/../meta")
    assert response.status in (400, 404)


async def test_resolve_preview_shows_provenance(chat_client: TestClient[Any, Any]) -> None:
    await chat_client.patch("/api/settings", json={"ai:preset": "anthropic-thinking", "ai:temperature": 0.3})
    await chat_client.patch("/api/blocks/b2/meta", json={"ai:model": "claude-block-model"})
    body = await (await chat_client.get("/api/ai/resolve/b2")).json()
    assert body["preset"] == "anthropic-thinking" and body["resolvedFrom"]["preset"] == "global"
    assert body["model"] == "claude-block-model" and body["resolvedFrom"]["model"] == "block"
    assert body["temperature"] == 0.3 and body["resolvedFrom"]["temperature"] == "global"
    body = await (await chat_client.get("/api/ai/resolve/b2?preset=anthropic-text")).json()
    assert body["preset"] == "anthropic-text" and body["resolvedFrom"]["model"] == "url"
    response = await chat_client.get("/api/ai/resolve/b2?preset=ghost")
    assert response.status == 400 and "url" in (await response.json())["error"]["message"]


async def test_chat_uses_block_preset_and_request_overrides(chat_client: TestClient[Any, Any]) -> None:
    await chat_client.patch("/api/blocks/block-9/meta", json={"ai:preset": "anthropic-text"})
    response = await chat_client.post(
        "/api/ai/chat/block-9",
        json={"messages": [user_message("hi")], "options": {"temperature": 0.7}},
        headers={"X-AI-Model": "claude-from-header", "X-AI-Temperature": "0.1"},
    )
    chunks, _, _ = parse_sse(await response.text())
    metadata = chunks[0]["messageMetadata"]
    assert metadata["preset"] == "anthropic-text" and metadata["resolvedFrom"]["preset"] == "block"
    assert metadata["model"] == "claude-from-header" and metadata["resolvedFrom"]["model"] == "request"
    saved = await (await chat_client.get("/api/ai/conversations/block-9")).json()
    assert saved["messages"][-1]["metadata"]["resolvedFrom"]["model"] == "request"


async def test_chat_request_cannot_redirect_the_key(chat_client: TestClient[Any, Any]) -> None:
    for option in (
        {"baseUrl": "https://evil.example"},
        {"provider": "openai"},
        {"apiKey": "x"},
        {"headers": {"x": "y"}},
        {"bogus": 1},
    ):
        response = await chat_client.post("/api/ai/chat/b1", json={"messages": [user_message("hi")], "options": option})
        assert response.status == 400, option
        assert next(iter(option)) in (await response.json())["error"]["message"]


async def test_presets_reload_on_change_and_keep_old_on_error(chat_client: TestClient[Any, Any]) -> None:
    catalog = chat_client.app[PRESETS]  # type: ignore[index]
    directory: Path = catalog.directory
    write_preset(directory, "fresh", 'provider = "anthropic"\nmodel = "claude-fresh"\n')
    assert catalog.reload_if_changed()
    names = [item["name"] for item in (await (await chat_client.get("/api/ai/presets")).json())["presets"]]
    assert "fresh" in names
    write_preset(directory, "fresh", 'provider = "anthropic"\nmodel = 3\n')
    assert not catalog.reload_if_changed()  # invalid: the previous presets stay
    assert catalog.presets["fresh"].file.model == "claude-fresh"


def test_sighup_reloads_presets(tmp_path: Path) -> None:
    """SIGHUP in a real server process reloads the presets (checked via the presets endpoint)."""
    import subprocess
    import sys
    import time
    import urllib.request

    presets_dir = tmp_path / "presets"
    presets_dir.mkdir()
    write_preset(presets_dir, "default", 'provider = "anthropic"\nmodel = "m"\n')
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "backend",
            "--port",
            str(port),
            "--data-dir",
            str(tmp_path / "data"),
            "--presets-dir",
            str(presets_dir),
            "--preset-poll-seconds",
            "3600",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ},
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(url + "/health", timeout=1).read()
                break
            except OSError:
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.05)
        write_preset(presets_dir, "added", 'provider = "anthropic"\nmodel = "m2"\n')
        process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while b'"added"' not in urllib.request.urlopen(url + "/api/ai/presets", timeout=2).read():
            assert time.monotonic() < deadline, "SIGHUP did not reload"
            time.sleep(0.05)
    finally:
        process.terminate()
        process.wait(timeout=10)
