"""Health, readiness, metrics, request ids and the access and answer log lines."""

from __future__ import annotations

import asyncio
import logging
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.ops.helpers import ops_client, user_message
from tests.sse import parse_sse
from tests.upstream import FakeUpstream


async def run(command: list[str]) -> subprocess.CompletedProcess[bytes]:
    return await asyncio.to_thread(subprocess.run, command, capture_output=True, check=False)


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one Prometheus sample with these labels (all of them must match)."""
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line[len(name) : line.rindex("}") + 1]))
        if all(found.get(key) == value for key, value in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no sample {name} {labels} in:\n{text}")


async def test_metrics_hold_tokens_ttft_and_requests_after_a_chat(
    tmp_path: Path, upstream: FakeUpstream, aiohttp_client: Any
) -> None:
    client = await ops_client(tmp_path, upstream.url, aiohttp_client)
    response = await client.post("/api/ai/chat/b1", json={"messages": [user_message("hi")]})
    chunks, _, _ = parse_sse(await response.text())
    usage = next(chunk for chunk in chunks if chunk["type"] == "message-metadata")["messageMetadata"]["usage"]
    text = await (await client.get("/metrics")).text()
    answer = {"preset": "default", "provider": "anthropic", "model": "claude-sonnet-5-5"}
    assert sample(text, "chatwire_tokens_total", kind="input", **answer) == usage["inputTokens"]
    assert sample(text, "chatwire_tokens_total", kind="output", **answer) == usage["outputTokens"]
    assert sample(text, "chatwire_time_to_first_token_seconds_count", **answer) == 1
    assert sample(text, "chatwire_answer_duration_seconds_count", **answer) == 1
    assert sample(text, "chatwire_answers_total", finish_reason="stop", front_door="chat", **answer) == 1
    route = "/api/ai/chat/{block_id}"
    assert sample(text, "chatwire_http_requests_total", route=route, method="POST", status="200") == 1
    assert "chatwire_active_streams 0.0" in text and "chatwire_draining 0.0" in text


async def test_a_provider_error_and_its_retries_are_counted(
    tmp_path: Path, upstream: FakeUpstream, aiohttp_client: Any
) -> None:
    client = await ops_client(tmp_path, upstream.url, aiohttp_client)
    response = await client.post("/api/ai/chat/b1?preset=anthropic-529", json={"messages": [user_message("hi")]})
    await response.text()
    text = await (await client.get("/metrics")).text()
    assert sample(text, "chatwire_provider_retries_total", provider="anthropic", category="overloaded") == 2
    assert sample(text, "chatwire_provider_errors_total", provider="anthropic", category="overloaded") == 1


async def test_requests_carry_an_id_and_one_access_line_without_the_query(
    tmp_path: Path, upstream: FakeUpstream, aiohttp_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    client = await ops_client(tmp_path, upstream.url, aiohttp_client)
    with caplog.at_level(logging.INFO):
        given = await client.get("/api/ai/presets?secret=do-not-log", headers={"X-Request-Id": "abc-123"})
        made = await client.post("/api/ai/chat/b1?preset=default", json={"messages": [user_message("hi")]})
        await made.text()
    assert given.headers["X-Request-Id"] == "abc-123"
    assert re.fullmatch(r"[0-9a-f]{16}", made.headers["X-Request-Id"])  # a stream gets its id too
    access = [record for record in caplog.records if record.name == "chatwire.access"]
    assert [record.getMessage().split(" ")[:3] for record in access] == [
        ["GET", "/api/ai/presets", "200"],
        ["POST", "/api/ai/chat/{block_id}", "200"],
    ]
    assert all("secret" not in record.getMessage() and "?" not in record.getMessage() for record in access)
    answers = [record for record in caplog.records if record.name == "chatwire.answer"]
    assert len(answers) == 1
    line = answers[0].getMessage()
    assert "block=b1 preset=default model=claude-sonnet-5-5" in line and "finish=stop" in line
    assert "hi" not in line.replace("ttft", "")  # no message content at INFO


async def test_ready_fails_when_the_data_dir_turns_read_only(
    tmp_path: Path, upstream: FakeUpstream, aiohttp_client: Any
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    client = await ops_client(tmp_path, upstream.url, aiohttp_client, data_dir=data)
    ready = await client.get("/health/ready")
    assert ready.status == 200
    assert (await ready.json())["checks"] == {"store": "ok", "presets": "ok", "draining": "ok"}
    # A read-only bind mount over the data dir: what the server opens from now on is read-only
    # (as after a volume turns read-only); root would ignore a chmod.
    bound = await run(["mount", "--bind", str(data), str(data)])
    if bound.returncode != 0:
        pytest.skip(f"cannot bind-mount here: {bound.stderr.decode().strip()}")
    try:
        assert (await run(["mount", "-o", "remount,bind,ro", str(data)])).returncode == 0
        failing = await client.get("/health/ready")
        body = await failing.json()
        assert failing.status == 503 and body["failed"] == ["store"]
        assert body["checks"]["store"].startswith("not writable")
        assert (await client.get("/health/live")).status == 200  # the process still answers
    finally:
        await run(["umount", str(data)])
    assert (await client.get("/health/ready")).status == 200
