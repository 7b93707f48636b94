"""SIGKILL a worker during 1,000 concurrent conversation saves on PostgreSQL: after it, every
acknowledged save is in the database (tests/test_crash_safety.py is the SQLite version)."""

from __future__ import annotations

import asyncio
import resource
from pathlib import Path

import aiohttp
import asyncpg
import orjson

from tests.conftest import write_preset
from tests.server_process import ServerProcess

CONVERSATIONS = 1000


async def save(http: aiohttp.ClientSession, url: str, block: str, text: str) -> bool:
    body = {"messages": [{"id": "u1", "role": "user", "parts": [{"type": "text", "text": text}]}]}
    try:
        async with http.post(f"{url}/api/ai/conversations/{block}", json=body) as response:
            return response.status == 200
    except (aiohttp.ClientError, ConnectionError):
        return False


async def test_acknowledged_saves_survive_sigkill_on_postgres(tmp_path: Path, postgres_url: str) -> None:
    # Two sockets per conversation in this process and the worker's (client and server side).
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4 * CONVERSATIONS)), hard))
    presets = tmp_path / "presets"
    presets.mkdir()
    write_preset(presets, "default", 'provider = "anthropic"\nmodel = "m"\n')
    # WARNING: no access line per save (nobody reads the worker's output during the writes).
    server = ServerProcess(tmp_path / "data", presets, "--database-url", postgres_url, "--log-level", "WARNING")
    acknowledged: dict[str, int] = {}  # block → the last round the worker acknowledged
    every_one_saved = asyncio.Event()

    async def writer(http: aiohttp.ClientSession, index: int) -> None:
        block = f"c{index}"
        for round_index in range(1_000_000):
            if not await save(http, server.url, block, f"{index} {round_index} " + "x" * 500):
                return  # the worker is gone
            acknowledged[block] = round_index
            if len(acknowledged) == CONVERSATIONS:
                every_one_saved.set()

    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as http:
        writers = [asyncio.create_task(writer(http, index)) for index in range(CONVERSATIONS)]
        # Every conversation saved once: the next 1,000 saves are in flight when the worker dies.
        await asyncio.wait_for(every_one_saved.wait(), 120)
        server.kill()
        await asyncio.gather(*writers)
    expected = dict(acknowledged)
    assert len(expected) == CONVERSATIONS

    connection = await asyncpg.connect(postgres_url)
    try:
        rows = await connection.fetch("SELECT block_id, messages FROM conversations")
    finally:
        await connection.close()
    stored = {row["block_id"]: orjson.loads(row["messages"])[0]["parts"][0]["text"] for row in rows}
    lost = [
        block
        for block, round_index in expected.items()
        # A save may have landed after its acknowledgement was cut off, never an acknowledged one missing.
        if block not in stored or int(stored[block].split()[1]) < round_index
    ]
    assert lost == []
