"""SIGTERM drains: readiness and new chats turn 503 at once, answers in flight finish (or end
``interrupted`` at the deadline), everything streamed is saved, and the process exits in time."""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
import threading
from pathlib import Path
from typing import Any

import aiohttp

from tests.conftest import TEST_KEY, write_fixture_presets
from tests.ops.helpers import user_message
from tests.server_process import ServerProcess
from tests.sse import parse_sse
from tests.upstream import FakeUpstream, Reply


class Server:
    """A real server process whose log lines can be awaited (a barrier, not a sleep)."""

    def __init__(self, tmp_path: Path, upstream: FakeUpstream, *flags: str) -> None:
        presets = tmp_path / "presets"
        write_fixture_presets(presets, upstream.url)
        self.data = tmp_path / "data"
        self.process = ServerProcess(self.data, presets, *flags, env={"TEST_ANTHROPIC_KEY": TEST_KEY})
        self.url = self.process.url
        self.lines: list[str] = []
        self._seen = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.process.stdout is not None
        for raw in self.process.process.stdout:
            with self._seen:
                self.lines.append(raw.decode(errors="replace"))
                self._seen.notify_all()

    async def wait_for_line(self, fragment: str) -> None:
        def wait() -> bool:
            with self._seen:
                return self._seen.wait_for(lambda: any(fragment in line for line in self.lines), timeout=20)

        assert await asyncio.to_thread(wait), f"no log line with {fragment!r} in {self.lines}"

    def signal(self, number: int = signal.SIGTERM) -> None:
        self.process.process.send_signal(number)

    async def exit_code(self, within_seconds: float) -> int:
        return await asyncio.to_thread(self.process.process.wait, within_seconds)

    def saved_answer(self, block: str) -> dict[str, Any]:
        with sqlite3.connect(self.data / "chatwire.sqlite3") as connection:
            row = connection.execute("SELECT messages FROM conversations WHERE block_id = ?", (block,)).fetchone()
        messages: list[dict[str, Any]] = json.loads(row[0])
        assert messages[-1]["role"] == "assistant"
        return messages[-1]


async def open_chat(session: aiohttp.ClientSession, url: str, block: str) -> asyncio.Task[str]:
    async def run() -> str:
        async with session.post(f"{url}/api/ai/chat/{block}", json={"messages": [user_message("hi")]}) as response:
            return await response.text()

    return asyncio.create_task(run())


async def test_sigterm_lets_an_answer_in_flight_finish_and_refuses_new_ones(
    tmp_path: Path, upstream: FakeUpstream
) -> None:
    release = asyncio.Event()
    upstream.enqueue(Reply.from_case("anthropic", "text_basic", hold_after_events=5, release=release))
    server = Server(tmp_path, upstream, "--drain-seconds", "20")
    async with aiohttp.ClientSession() as session:
        answer = await open_chat(session, server.url, "b1")
        await asyncio.wait_for(upstream.stream_started.wait(), 10)
        server.signal()
        await server.wait_for_line("SIGTERM: draining")
        async with session.get(f"{server.url}/health/ready") as ready:
            assert ready.status == 503 and (await ready.json())["checks"]["draining"] == "yes"
        async with session.post(f"{server.url}/api/ai/chat/b2", json={"messages": [user_message("hi")]}) as refused:
            assert refused.status == 503 and refused.headers["Retry-After"] == "5"
            assert (await refused.json())["error"]["code"] == "draining"
        release.set()  # the slow model goes on and finishes within the drain
        chunks, _, done = parse_sse(await answer)
    assert done and chunks[-1] == {"type": "finish", "finishReason": "stop"}
    assert await server.exit_code(within_seconds=25) == 0
    saved = server.saved_answer("b1")
    assert saved["parts"][-1]["state"] == "done" and saved["parts"][-1]["text"].startswith("Olá!")


async def test_at_the_deadline_answers_end_interrupted_saved_and_the_process_exits(
    tmp_path: Path, upstream: FakeUpstream
) -> None:
    never = asyncio.Event()
    upstream.enqueue(Reply.from_case("anthropic", "text_basic", hold_after_events=5, release=never))
    server = Server(tmp_path, upstream, "--drain-seconds", "1")
    async with aiohttp.ClientSession() as session:
        answer = await open_chat(session, server.url, "b1")
        await asyncio.wait_for(upstream.stream_started.wait(), 10)
        server.signal()
        chunks, _, done = parse_sse(await answer)
    assert done and chunks[-1] == {"type": "finish", "finishReason": "interrupted"}
    streamed = "".join(chunk["delta"] for chunk in chunks if chunk["type"] == "text-delta")
    assert await server.exit_code(within_seconds=1 + 5) == 0
    saved = server.saved_answer("b1")
    assert "".join(part.get("text", "") for part in saved["parts"] if part["type"] == "text") == streamed
    never.set()


async def test_a_second_signal_skips_the_wait_but_still_ends_and_saves(tmp_path: Path, upstream: FakeUpstream) -> None:
    never = asyncio.Event()
    upstream.enqueue(Reply.from_case("anthropic", "text_basic", hold_after_events=5, release=never))
    server = Server(tmp_path, upstream, "--drain-seconds", "600")
    async with aiohttp.ClientSession() as session:
        answer = await open_chat(session, server.url, "b1")
        await asyncio.wait_for(upstream.stream_started.wait(), 10)
        server.signal(signal.SIGINT)
        await server.wait_for_line("SIGINT: draining")
        server.signal()
        chunks, _, done = parse_sse(await answer)
    assert done and chunks[-1] == {"type": "finish", "finishReason": "interrupted"}
    assert await server.exit_code(within_seconds=5) == 0  # not the 600 s drain
    assert server.saved_answer("b1")["parts"]
    never.set()


async def test_json_logs_carry_the_request_id_and_no_query(tmp_path: Path, upstream: FakeUpstream) -> None:
    server = Server(tmp_path, upstream, "--log-format", "json")
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{server.url}/api/ai/presets?key=sk-do-not-log", headers={"X-Request-Id": "r-42"}):
            pass
        async with session.post(f"{server.url}/api/ai/chat/b1", json={"messages": [user_message("hi")]}) as chat:
            await chat.text()
    await server.wait_for_line('"logger": "chatwire.answer"')
    server.signal()
    assert await server.exit_code(within_seconds=25) == 0
    records = [json.loads(line) for line in server.lines if line.startswith("{")]
    access = [record for record in records if record["logger"] == "chatwire.access"]
    presets_line = next(record for record in access if record["route"] == "/api/ai/presets")
    assert presets_line["request_id"] == "r-42" and presets_line["status"] == 200
    answer = next(record for record in records if record["logger"] == "chatwire.answer")
    assert answer["block"] == "b1" and answer["finish"] == "stop" and answer["output_tokens"] > 0
    assert not any("sk-do-not-log" in line or "key=" in line for line in server.lines)
