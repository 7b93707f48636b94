"""``python -m backend --workers 2``: one port, two worker processes, a supervisor that restarts a
dead worker and drains them all on SIGTERM (docs/scaling.md)."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import aiohttp
import asyncpg
import orjson

from tests.conftest import TEST_KEY, write_fixture_presets
from tests.engines import PostgresServer, RedisServer
from tests.scale.processes import OutputLines, accepting_process, alive, children
from tests.scale.workers import held
from tests.server_process import ServerProcess
from tests.sse import parse_sse
from tests.upstream import FakeUpstream
from tests.web.test_chat_endpoint import user_message

WORKER_LINE = "worker pid "


def worker_pids(lines: list[str]) -> list[int]:
    return [int(line.split(WORKER_LINE)[1].split(")")[0]) for line in lines]


async def accepting_workers(port: int, workers: set[int], connections: int = 24) -> set[int]:
    """The workers that accepted ``connections`` fresh connections to ``port`` (each answered /health/live)."""
    seen: set[int] = set()
    for _ in range(connections):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert (await reader.readline()).startswith(b"HTTP/1.1 200")  # accepted and answered
        pid = accepting_process(port, writer.get_extra_info("sockname")[1], workers)
        assert pid is not None
        seen.add(pid)
        writer.close()
        await writer.wait_closed()
    return seen


async def test_two_workers_share_one_port_restart_when_killed_and_drain_on_sigterm(
    tmp_path: Path, upstream: FakeUpstream, postgres_server: PostgresServer, redis_server: RedisServer, redis_url: str
) -> None:
    presets = tmp_path / "presets"
    write_fixture_presets(presets, upstream.url)
    database_url = await postgres_server.new_database()
    flags = ("--workers", "2", "--database-url", database_url, "--redis-url", redis_url, "--drain-seconds", "1")
    server = ServerProcess(tmp_path / "data", presets, *flags, env={"TEST_ANTHROPIC_KEY": TEST_KEY})
    output = OutputLines(server.process)
    supervisor = server.process.pid
    first, second = worker_pids(await output.wait_count(WORKER_LINE, 2))
    assert children(supervisor) == {first, second}
    # The kernel spreads connections to the one port over both workers' sockets.
    assert await accepting_workers(server.port, {first, second}) == {first, second}

    # A worker that dies is replaced; the port keeps answering meanwhile.
    os.kill(first, signal.SIGKILL)
    replacement = worker_pids(await output.wait_count(WORKER_LINE, 3))[-1]
    assert children(supervisor) == {second, replacement} and not alive(first)
    assert await accepting_workers(server.port, {second, replacement}) <= {second, replacement}

    # SIGTERM to the supervisor drains every worker: an answer in flight ends interrupted and is saved.
    release = asyncio.Event()
    upstream.enqueue(held(release))
    async with aiohttp.ClientSession() as http:
        answer = await http.post(f"{server.url}/api/ai/chat/s1", json={"messages": [user_message("hi")]})
        assert answer.status == 200
        await asyncio.wait_for(upstream.stream_started.wait(), 15)
        server.process.send_signal(signal.SIGTERM)
        chunks, _, done = parse_sse(await asyncio.wait_for(answer.text(), 30))
    release.set()
    assert chunks[-1] == {"type": "finish", "finishReason": "interrupted"} and done
    assert await asyncio.to_thread(server.process.wait, 30) == 0
    assert not alive(second) and not alive(replacement)
    connection = await asyncpg.connect(database_url)
    try:
        saved = orjson.loads(await connection.fetchval("SELECT messages FROM conversations WHERE block_id = 's1'"))
    finally:
        await connection.close()
    assert [message["role"] for message in saved] == ["user", "assistant"]
    assert saved[-1]["parts"][-1]["text"].startswith("Olá!")
