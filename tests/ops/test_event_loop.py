"""``python -m backend`` runs on asyncio's loop, or on uvloop when told (backend/event_loop.py), and
answers a chat on either: real server processes, the startup line says which loop."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import TEST_KEY, write_fixture_presets
from tests.ops.helpers import user_message
from tests.server_process import ServerProcess
from tests.sse import parse_sse
from tests.upstream import FakeUpstream


def startup_line(server: ServerProcess) -> str:
    """The "Chatwire on …" line: printed before the server answers /health, so already there."""
    assert server.process.stdout is not None
    for raw in server.process.stdout:
        line = raw.decode(errors="replace")
        if line.startswith("Chatwire on"):
            return line
    raise AssertionError("no startup line")


@pytest.mark.parametrize(("flags", "loop"), [((), "asyncio"), (("--event-loop", "uvloop"), "uvloop")])
async def test_the_server_answers_on_the_chosen_event_loop(
    tmp_path: Path, upstream: FakeUpstream, flags: tuple[str, ...], loop: str
) -> None:
    presets = tmp_path / "presets"
    write_fixture_presets(presets, upstream.url)
    server = ServerProcess(tmp_path / "data", presets, *flags, env={"TEST_ANTHROPIC_KEY": TEST_KEY})
    try:
        assert f"event loop: {loop}" in startup_line(server)
        body = {"messages": [user_message("hi")]}
        async with aiohttp.ClientSession() as session, session.post(f"{server.url}/api/ai/chat/b1", json=body) as reply:
            assert reply.status == 200
            chunks, _, done = parse_sse(await reply.text())
        assert done and chunks[-1]["type"] == "finish"
        assert "".join(chunk.get("delta", "") for chunk in chunks if chunk["type"] == "text-delta")
    finally:
        server.stop()


def test_an_unknown_event_loop_in_the_environment_is_a_configuration_error(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "backend", "--data-dir", str(tmp_path / "data"), "--presets-dir", str(tmp_path)],
        env={"PATH": "/usr/bin:/bin", "CHATWIRE_EVENT_LOOP": "trio"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "CHATWIRE_EVENT_LOOP: 'trio' is not one of asyncio, uvloop" in result.stderr
